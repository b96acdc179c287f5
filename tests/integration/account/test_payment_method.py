"""POST /v1/me/payment-method/session on the local stack: account_api served by
functions-framework with the Firebase Auth emulator's tokens, the real Stripe and Adyen
libraries against the provider simulator, and the loop closed through the real
checkout_webhook: the card the subscriber saves in the session is the card renewals charge.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_accounts import FirestoreAccounts
from refrain.domain.subscription import BillingMode
from refrain.settings import CloudSettings
from refrain_tools.simulator import DeliveryPolicy, WebhookSender
from refrain_tools.simulator.gateway import GatewaySimulator
from tests.integration.account.conftest import Api, Emulator
from tests.integration.ingest.conftest import signed_sender

pytestmark = pytest.mark.integration
PATH = "/v1/me/payment-method/session"
PROBLEM = "application/problem+json"


@pytest.fixture
def sender(webhook_url: str) -> Iterator[WebhookSender]:
    policy = DeliveryPolicy(seed=5, workers=2, max_attempts=5, backoff_base_s=0.05)
    with signed_sender(webhook_url, policy) as running:
        yield running


@pytest.fixture
def sim(sender: WebhookSender) -> Iterator[GatewaySimulator]:
    with GatewaySimulator(webhooks=sender) as running:
        yield running


@pytest.fixture
def api(serve: Callable[..., Api], sim: GatewaySimulator) -> Api:
    return serve(**sim.env(), REFRAIN_ACCOUNT_URL="https://account.example/return")


def _card_of(cloud: CloudSettings, sub_id: str, want: str, timeout_s: float = 20) -> str | None:
    accounts = FirestoreAccounts(build_firestore(cloud))
    deadline, found = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        sub = accounts.subscription(sub_id)
        found = sub.payment_method_ref if sub else None
        if found == want:
            break
        time.sleep(0.2)
    return found


def _problem(answer: object, status: int, slug: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    assert answer.headers["Content-Type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    body = dict(answer.json())  # type: ignore[attr-defined]
    assert body["type"] == f"https://refrain.dev/problems/{slug}"
    return body


def test_stripe_setup_intent_session_replay_and_the_card_arriving_by_webhook(
    api: Api, emulator: Emulator, sim: GatewaySimulator, sender: WebhookSender,
    cloud: CloudSettings,
) -> None:  # fmt: skip
    user = emulator.sign_up()
    customer = f"cus_{user.uid[:12]}"
    sim.save_customer({"id": customer, "object": "customer",
                       "invoice_settings": {"default_payment_method": None}})  # fmt: skip
    sub_id = api.seed(user.uid, payment_method_ref=f"{customer}:pm_old")
    key = "pm-session-0001"
    first = api.post(PATH, {"subscription_id": sub_id}, **user.auth(**{"Idempotency-Key": key}))
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["provider"], body["subscription_id"]) == ("stripe", sub_id)
    seti = body["setup_intent_id"]
    assert body["client_secret"].startswith(f"{seti}_secret_")
    assert first.headers["Cache-Control"] == "no-store"
    intent = sim.cards.setup_intents[seti]
    assert (intent["customer"], intent["usage"]) == (customer, "off_session")
    assert intent["metadata"] == {"subscription_id": sub_id}

    again = api.post(PATH, {"subscription_id": sub_id}, **user.auth(**{"Idempotency-Key": key}))
    assert again.status_code == 200 and again.json() == body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(sim.cards.setup_intents) == 1  # the provider replayed its own answer
    assert sorted(sim.requests_by_key().values()) == [2]  # one derived key, asked twice
    other_body = api.post(PATH, {}, **user.auth(**{"Idempotency-Key": key}))
    _problem(other_body, 422, "idempotency-key-reused")

    # the subscriber confirms with Stripe.js; Stripe notifies; the webhook stores the card
    for event in sim.cards.confirm_stripe(seti, "pm_new_card"):
        sender.send_stripe(event)
    assert set(sender.flush(timeout=60).final_statuses) == {"200"}
    assert _card_of(cloud, sub_id, f"{customer}:pm_new_card") == f"{customer}:pm_new_card"


def test_adyen_zero_amount_session_and_the_token_arriving_by_webhook(
    api: Api, emulator: Emulator, sim: GatewaySimulator, sender: WebhookSender,
    cloud: CloudSettings,
) -> None:  # fmt: skip
    user = emulator.sign_up()
    sub_id = api.seed(user.uid, provider="adyen", payment_method_ref=f"{user.uid}:TKNOLD")
    answer = api.post(PATH, None, **user.auth(**{"Idempotency-Key": "pm-session-adyen-1"}))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["provider"] == "adyen" and body["session_data"] and body["expires_at"]
    session = sim.cards.sessions[body["session_id"]]
    assert session["amount"] == {"value": 0, "currency": "SEK"}
    assert (session["shopperReference"], session["recurringProcessingModel"]) == (
        user.uid, "Subscription")  # fmt: skip
    assert session["storePaymentMethod"] is True and session["reference"].startswith(sub_id)
    assert session["returnUrl"] == "https://account.example/return"

    for item in sim.cards.confirm_adyen(body["session_id"], "TKNNEW"):
        sender.send_adyen(item)
    assert set(sender.flush(timeout=60).final_statuses) == {"200"}
    assert _card_of(cloud, sub_id, f"{user.uid}:TKNNEW") == f"{user.uid}:TKNNEW"


def test_another_user_s_token_gets_404_and_the_provider_is_not_asked(
    api: Api, emulator: Emulator, sim: GatewaySimulator
) -> None:
    owner, other = emulator.sign_up(), emulator.sign_up()
    sub_id = api.seed(owner.uid, payment_method_ref="cus_owner:pm_1")
    answer = api.post(PATH, {"subscription_id": sub_id},
                      **other.auth(**{"Idempotency-Key": "pm-session-other"}))  # fmt: skip
    _problem(answer, 404, "not-found")
    assert sim.requests_by_key() == {}


def test_a_provider_managed_subscription_is_sent_to_the_store(
    api: Api, emulator: Emulator, sim: GatewaySimulator
) -> None:
    user = emulator.sign_up()
    sub_id = api.seed(user.uid, provider="google_play", billing_mode=BillingMode.PROVIDER_MANAGED,
                      payment_method_ref="play:token")  # fmt: skip
    answer = api.post(PATH, {"subscription_id": sub_id},
                      **user.auth(**{"Idempotency-Key": "pm-session-play"}))  # fmt: skip
    body = _problem(answer, 409, "managed-by-provider")
    assert "Google Play" in str(body["detail"])
    assert sim.requests_by_key() == {}
    _problem(api.post(PATH, {"subscription_id": sub_id}, **user.auth()), 428,
             "idempotency-key-required")  # fmt: skip
