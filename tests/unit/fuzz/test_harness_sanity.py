"""The fuzz harness is not simply refusing everything: genuine requests go through it.

Also the one place where a dependency decides the status: Google's certificate
endpoint. Garbage tokens are refused (401) before it is ever asked; only a
well-formed token meets the outage, and then 503 is right (it may be genuine).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refrain_tools.simulator.apple import (
    apple_notification,
    apple_pki,
    apple_renewal,
    apple_transaction,
)
from refrain_tools.simulator.google_play import google_signer
from tests.integration.ingest.conftest import stripe_event
from tests.support import FIXTURES, adyen_auth, adyen_sign
from tests.unit.fuzz.harness import (
    ADYEN_KEY,
    adyen_signature_valid,
    build_harness,
    fuzz_examples,
    stripe_sign,
    stripe_signature_valid,
)
from tests.unit.fuzz.strategies import header_text
from tests.unit.providers.support import PLAY_FIXTURES, days

JSON = {"Content-Type": "application/json"}


def _checkout() -> bytes:
    event = stripe_event("checkout.session.completed", id="evt_fuzz_ok")
    event["data"]["object"].update(
        mode="payment",
        payment_status="paid",
        payment_intent="pi_fuzz_ok",
        amount_total=13900,
        currency="sek",
        metadata={
            "account_id": "acct_fuzz",
            "plan": "individual_monthly",
            "market": "SE",
            "subscription_id": "sub_fuzz_ok",
            "locale": "sv_SE",
        },
    )
    return json.dumps(event).encode()


def test_a_signed_stripe_checkout_is_applied_and_published() -> None:
    h = build_harness()
    body = _checkout()
    headers = {**JSON, "Stripe-Signature": stripe_sign(body)}
    assert stripe_signature_valid(body, headers["Stripe-Signature"])
    answer = h.service.handle("POST", "/stripe", headers, body)
    assert answer.status == 200, answer
    assert len(h.audit.records) == 1 and len(h.ledger.commands) == 1
    assert h.relay.published, "a checkout emits domain events"


def test_signed_adyen_fixtures_are_accepted_and_recorded() -> None:
    h = build_harness()
    accepted = 0
    for path in sorted((FIXTURES / "adyen" / "signed").glob("[!N]*.json")):
        h.reset()
        body = path.read_bytes()
        assert adyen_signature_valid(body), path.name
        answer = h.service.handle("POST", "/adyen", {**JSON, **adyen_auth()}, body)
        assert answer.status in (200, 422), (path.name, answer)  # 422: unknown subscription
        assert h.audit.records, path.name
        accepted += answer.status == 200
    assert accepted >= 2
    # A re-signed item keeps verifying: the oracle and the route agree on Adyen's scheme.
    item = json.loads((FIXTURES / "adyen" / "signed" / "capture.json").read_text())
    item = item["notificationItems"][0]["NotificationRequestItem"]
    item["amount"]["value"] = 4242
    resigned = json.dumps(
        {"notificationItems": [{"NotificationRequestItem": adyen_sign(item, ADYEN_KEY)}]}
    ).encode()
    assert adyen_signature_valid(resigned)
    h.reset()
    assert h.service.handle("POST", "/adyen", {**JSON, **adyen_auth()}, resigned).status == 200


def _play_body() -> bytes:
    return (PLAY_FIXTURES / "push_04_SUBSCRIPTION_PURCHASED.json").read_bytes()


def test_a_trusted_google_play_push_is_applied() -> None:
    h = build_harness(google_certs=google_signer().certs())
    auth = {**JSON, "Authorization": f"Bearer {google_signer().token()}"}
    answer = h.service.handle("POST", "/google-play", auth, _play_body())
    assert answer.status == 200, answer
    assert h.purchases.calls and h.ledger.commands and h.audit.records


def test_a_trusted_apple_notification_is_applied() -> None:
    h = build_harness(apple_root=apple_pki())
    now = datetime.now(UTC)
    txn = apple_transaction(purchased=now, expires=now + days(30))
    body = apple_notification(
        "SUBSCRIBED", "INITIAL_BUY", signed=now, txn=txn, renewal=apple_renewal()
    )
    answer = h.service.handle("POST", "/apple", JSON, json.dumps(body).encode())
    assert answer.status == 200, answer
    assert h.ledger.commands and h.audit.records


def test_the_default_harness_trusts_no_app_store_request() -> None:
    h = build_harness()
    auth = {**JSON, "Authorization": f"Bearer {google_signer().token()}"}
    assert h.service.handle("POST", "/google-play", auth, _play_body()).status == 401
    assert h.certs.fetches == 1  # the fake endpoint answered, not the network
    now = datetime.now(UTC)
    body = json.dumps(apple_notification("TEST", signed=now)).encode()
    assert h.service.handle("POST", "/apple", JSON, body).status == 401
    assert h.writes() == 0


def _jwt_like(header: Any, payload: Any, signature: bytes) -> str:
    def enc(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return ".".join(
        [enc(json.dumps(header).encode()), enc(json.dumps(payload).encode()), enc(signature)]
    )


@settings(
    max_examples=max(200, fuzz_examples() // 10),
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(token=header_text | st.binary(max_size=80).map(lambda b: b.decode("latin-1")))
def test_garbage_tokens_are_401_without_asking_for_certificates(token: str) -> None:
    h = _unreachable()
    answer = h.service.handle(
        "POST", "/google-play", {**JSON, "Authorization": f"Bearer {token}"}, _play_body()
    )
    assert answer.status == 401, (answer, token)
    assert h.certs.fetches == 0 and h.writes() == 0


_UNREACHABLE = None


def _unreachable() -> Any:
    global _UNREACHABLE  # noqa: PLW0603 - one harness for every example
    if _UNREACHABLE is None:
        _UNREACHABLE = build_harness(certs_reachable=False)
    _UNREACHABLE.reset()
    _UNREACHABLE.certs.fetches = 0
    return _UNREACHABLE


def test_a_well_formed_token_during_a_certificate_outage_is_503_and_writes_nothing() -> None:
    h = _unreachable()
    exp = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    token = _jwt_like({"alg": "RS256", "kid": "x"}, {"aud": "a", "exp": exp}, b"sig")
    answer = h.service.handle(
        "POST", "/google-play", {**JSON, "Authorization": f"Bearer {token}"}, _play_body()
    )
    assert answer.status == 503  # may be genuine: Pub/Sub retries once Google answers again
    assert h.certs.fetches == 1 and h.writes() == 0
