"""POST /v1/me/payment-method/session with in-memory ports and a recording provider:
ownership, billing mode, idempotency (same key: the provider's own replay), errors."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import pytest

from refrain.account.payment_method import (
    CardSetupRefused,
    CardSetupRequest,
    CardSetupSession,
    CardSetupUnavailable,
    PaymentMethodSessions,
    card_update_reference,
    provider_key,
)
from refrain.domain.clock import FixedClock
from refrain.domain.subscription import BillingMode, State, evolve
from refrain.observability import get_logger
from refrain.providers import adyen_webhook
from refrain.providers.price_plans import ReferenceConvention
from tests.fakes.accounts import MemoryKeys
from tests.unit.account.test_routes import Rig, problem, rig
from tests.unit.care.test_care_service import NOW, active

PATH = "/v1/me/payment-method/session"


@dataclass
class Provider:
    """Answers like a provider with idempotency: the same key, the same session."""

    calls: list[CardSetupRequest] = field(default_factory=list)
    fail: Exception | None = None

    def start(self, request: CardSetupRequest) -> CardSetupSession:
        self.calls.append(request)
        if self.fail is not None:
            raise self.fail
        seti = "seti_" + request.idempotency_key[3:15]
        return CardSetupSession("stripe", seti, client_secret=f"{seti}_secret_x")


def with_cards(r: Rig, provider: Provider) -> Rig:
    r.api.cards = PaymentMethodSessions(
        r.api.service, MemoryKeys(), {"stripe": provider}, FixedClock(NOW)
    )
    return r


def test_a_merchant_managed_subscription_gets_a_setup_intent_for_its_customer() -> None:
    provider = Provider()
    r = with_cards(rig(), provider)
    r.ledger.put(evolve(active(), {"payment_method_ref": "cus_1:pm_old"}))
    answer = r.call("POST", PATH, {"subscription_id": "sub_1"}, Idempotency_Key="card-key-1")
    assert answer.status == 200, answer.body
    body = json.loads(answer.body)
    assert body["provider"] == "stripe" and body["subscription_id"] == "sub_1"
    assert body["client_secret"].startswith(body["setup_intent_id"] + "_secret_")
    assert answer.headers["Cache-Control"] == "no-store"
    [call] = provider.calls
    assert call.payment_method_ref == "cus_1:pm_old" and call.subscription_id == "sub_1"
    assert call.idempotency_key == provider_key("acct_1", "card-key-1")
    assert "card-key-1" not in call.idempotency_key and len(call.idempotency_key) <= 64
    # nothing changed: the card arrives through the webhook
    assert r.ledger.subs["sub_1"].payment_method_ref == "cus_1:pm_old"


def test_without_a_subscription_id_the_newest_live_merchant_managed_one_is_taken() -> None:
    provider = Provider()
    r = with_cards(rig(), provider)
    assert r.call("POST", PATH, Idempotency_Key="card-key-2").status == 200
    assert provider.calls[0].subscription_id == "sub_1"


def test_the_same_key_replays_through_the_provider_and_a_different_body_is_422() -> None:
    provider = Provider()
    r = with_cards(rig(), provider)
    first = r.call("POST", PATH, {"subscription_id": "sub_1"}, Idempotency_Key="card-key-3")
    again = r.call("POST", PATH, {"subscription_id": "sub_1"}, Idempotency_Key="card-key-3")
    assert again.body == first.body and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert {c.idempotency_key for c in provider.calls} == {provider_key("acct_1", "card-key-3")}
    problem(r.call("POST", PATH, {"subscription_id": None}, Idempotency_Key="card-key-3"),
            422, "idempotency-key-reused")  # fmt: skip


def test_someone_else_s_subscription_is_404_and_nothing_is_asked_of_the_provider() -> None:
    provider = Provider()
    r = with_cards(rig(), provider)
    answer = r.call("POST", PATH, {"subscription_id": "sub_1"}, token="acct_2",
                    Idempotency_Key="card-key-4")  # fmt: skip
    problem(answer, 404, "not-found")
    problem(r.call("POST", PATH, token="acct_2", Idempotency_Key="card-key-5"), 404, "not-found")
    assert provider.calls == []


@pytest.mark.parametrize(
    ("provider_name", "where"),
    [("google_play", "Google Play"), ("apple", "App Store"), ("stripe", "customer portal")],
)
def test_a_provider_managed_subscription_is_sent_to_the_store_or_portal(
    provider_name: str, where: str
) -> None:
    provider = Provider()
    r = with_cards(rig(), provider)
    r.ledger.put(evolve(active(), {"provider": provider_name,
                                   "billing_mode": BillingMode.PROVIDER_MANAGED}))  # fmt: skip
    body = problem(r.call("POST", PATH, Idempotency_Key="card-key-6"), 409, "managed-by-provider")
    assert where in body["detail"] and provider.calls == []


def test_keys_expired_subscriptions_and_provider_failures() -> None:
    provider = Provider()
    r = with_cards(rig(), provider)
    problem(r.call("POST", PATH), 428, "idempotency-key-required")
    problem(r.call("POST", PATH, Idempotency_Key="short"), 400, "invalid-request")
    provider.fail = CardSetupUnavailable("stripe: APIConnectionError")
    answer = r.call("POST", PATH, Idempotency_Key="card-key-7")
    problem(answer, 503, "temporarily-unavailable")
    assert answer.headers["Retry-After"] == "1"
    provider.fail = CardSetupRefused("no Stripe customer on file for this subscription")
    refused = problem(r.call("POST", PATH, Idempotency_Key="card-key-8"), 422, "card-setup-refused")
    assert "customer" in refused["detail"]
    provider.fail = None
    r.ledger.put(evolve(active(), {"state": State.EXPIRED}))
    problem(r.call("POST", PATH, {"subscription_id": "sub_1"}, Idempotency_Key="card-key-9"),
            409, "action-not-allowed")  # fmt: skip


def test_a_provider_without_keys_is_a_503_and_the_log_names_the_variable() -> None:
    r = rig()
    stream = io.StringIO()
    r.api.log = get_logger("account_api", stream)
    r.api.cards = PaymentMethodSessions(r.api.service, MemoryKeys(), {}, FixedClock(NOW))
    answer = r.call("POST", PATH, Idempotency_Key="card-key-10")
    body = problem(answer, 503, "temporarily-unavailable")
    assert "STRIPE_API_KEY" not in body.get("detail", "")  # configuration is not the caller's
    assert "STRIPE_API_KEY not set" in stream.getvalue()


def test_the_adyen_reference_is_what_the_webhook_reads_back() -> None:
    assert adyen_webhook.CARD_UPDATE == ":payment-method:"
    reference = card_update_reference("sub_a:b", provider_key("acct_1", "card-key"))
    assert len(reference) <= 80  # Adyen's limit for reference
    assert adyen_webhook._subscription_of(reference, ReferenceConvention()) == ("sub_a:b")
