"""The Stripe and Adyen adapters through their real libraries, against local stand-ins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from refrain.adapters.firestore_collections import CHARGES, OUTBOX
from refrain.adapters.firestore_renewals import seed_subscriptions
from refrain.adapters.gateway_adyen import AdyenGateway
from refrain.adapters.gateway_stripe import StripeGateway
from refrain.domain import Money, State, Subscription
from refrain.domain.clock import utc
from refrain.domain.declines import DeclineCategory
from refrain.renewals.gateway import ChargeStatus, GatewayCharge, GatewayUnavailable
from refrain.settings import CloudSettings
from refrain_tools.renewals.population import active_subscription
from tests.integration.renewals.conftest import START, make_rig
from tests.integration.renewals.providers import ProviderState, provider_server

ANCHOR = utc(2025, 4, 1)


def charge(pm: str, key: str = "sub_1:20250401T000000Z:1") -> GatewayCharge:
    return GatewayCharge(key, "sub_1", "acct_1", Money(11900, "SEK"), pm, ANCHOR, 1)


@pytest.fixture
def server() -> Iterator[tuple[str, ProviderState]]:
    with provider_server() as running:
        yield running


def test_stripe_success_sends_key_metadata_and_replays(server: tuple[str, ProviderState]) -> None:
    base, state = server
    gateway = StripeGateway.create("sk_test_local", base, timeout_s=0.5)
    first = gateway.charge(charge("cus_1:pm_ok"))
    again = gateway.charge(charge("cus_1:pm_ok"))
    assert first.status is again.status is ChargeStatus.SUCCEEDED
    assert first.provider_ref == again.provider_ref and first.provider_ref.startswith("pi_")  # type: ignore[union-attr]
    assert state.charges == {"sub_1:20250401T000000Z:1": 1}
    assert state.requests["sub_1:20250401T000000Z:1"] == 2
    body = state.bodies[0]
    assert body["confirm"] == "true" and body["off_session"] == "true"
    assert body["customer"] == "cus_1" and body["payment_method"] == "pm_ok"
    assert body["metadata[charge_id]"] == "sub_1:20250401T000000Z:1"
    assert body["metadata[billing_anchor]"] == ANCHOR.isoformat()
    assert body["metadata[attempt]"] == "1" and body["amount"] == "11900"


def test_stripe_declines_are_classified(server: tuple[str, ProviderState]) -> None:
    base, _ = server
    gateway = StripeGateway.create("sk_test_local", base)
    soft = gateway.charge(charge("cus_1:pm_insufficient_funds", "k1")).decline
    hard = gateway.charge(charge("cus_1:pm_stolen", "k2")).decline
    assert soft is not None and soft.soft and soft.category is DeclineCategory.INSUFFICIENT_FUNDS
    assert hard is not None and hard.hard and hard.category is DeclineCategory.FRAUD_OR_STOLEN


def test_stripe_charges_the_customers_invoice_default_when_no_card_is_stored(
    server: tuple[str, ProviderState],
) -> None:
    base, state = server
    gateway = StripeGateway.create("sk_test_local", base)
    state.customers["cus_1"] = {"id": "cus_1", "invoice_settings": {"default_payment_method": None}}
    state.customers["cus_2"] = {
        "id": "cus_2",
        "object": "customer",
        "invoice_settings": {"default_payment_method": "pm_default_ok"},
    }
    paid = gateway.charge(charge("cus_2", "k4"))
    assert paid.status is ChargeStatus.SUCCEEDED
    assert (state.bodies[-1]["customer"], state.bodies[-1]["payment_method"]) == (
        "cus_2",
        "pm_default_ok",
    )
    for ref, key in (("cus_1", "k3"), ("cus_gone", "k5")):  # no default; a deleted customer
        missing = gateway.charge(charge(ref, key)).decline
        assert missing is not None and missing.hard  # nothing to charge off-session
    assert state.charges == {"k4": 1}


def test_stripe_timeouts_and_5xx_are_transient(server: tuple[str, ProviderState]) -> None:
    base, state = server
    gateway = StripeGateway.create("sk_test_local", base, timeout_s=0.5)
    with pytest.raises(GatewayUnavailable):
        gateway.charge(charge("cus_1:pm_slow", "slow"))
    assert gateway.charge(charge("cus_1:pm_slow", "slow")).status is ChargeStatus.SUCCEEDED
    assert state.charges["slow"] == 1 and state.requests["slow"] == 2
    with pytest.raises(GatewayUnavailable):
        gateway.charge(charge("cus_1:pm_500", "boom"))


def test_adyen_request_shape_results_and_idempotency(server: tuple[str, ProviderState]) -> None:
    base, state = server
    gateway = AdyenGateway.create("AQE_test", "RefrainECOM", checkout_url=base, timeout_s=1)
    ok = gateway.charge(charge("tok_ok"))
    assert ok.status is ChargeStatus.SUCCEEDED and gateway.charge(charge("tok_ok")) == ok
    assert state.charges == {"sub_1:20250401T000000Z:1": 1}
    body, headers = state.bodies[0], state.headers[0]
    assert headers["Idempotency-Key"] == "sub_1:20250401T000000Z:1"
    assert body["reference"] == "sub_1:20250401T000000Z:1"  # the webhook's merchantReference
    assert body["shopperInteraction"] == "ContAuth"
    assert body["recurringProcessingModel"] == "Subscription"
    assert body["paymentMethod"] == {"type": "scheme", "storedPaymentMethodId": "tok_ok"}
    assert body["amount"] == {"value": 11900, "currency": "SEK"}
    soft = gateway.charge(charge("tok_insufficient_funds", "a1")).decline
    hard = gateway.charge(charge("tok_stolen", "a2")).decline
    assert soft is not None and soft.soft and hard is not None and hard.hard
    with pytest.raises(GatewayUnavailable):
        gateway.charge(charge("tok_500", "a3"))
    with pytest.raises(GatewayUnavailable):
        gateway.charge(charge("tok_slow", "a4"))
    assert gateway.charge(charge("tok_slow", "a4")).status is ChargeStatus.SUCCEEDED
    assert state.charges["a4"] == 1


def _stripe_sub() -> Subscription:
    return active_subscription(
        "sub_s", payment_method_ref="cus_9:pm_ok", period_start=START, provider="stripe"
    )


def test_crash_after_the_stripe_call_charges_once_and_records_once(
    cloud: CloudSettings, server: tuple[str, ProviderState]
) -> None:
    base, state = server
    gateway = StripeGateway.create("sk_test_local", base)
    rig = make_rig(cloud, gateway=gateway)
    crashed: list[str] = []

    def crash(request: GatewayCharge) -> None:
        if not crashed:  # fault injection: test configuration only
            crashed.append(request.charge_id)
            raise RuntimeError("instance killed after the provider answered")

    rig.inline.worker.crash_after_gateway = crash
    seed_subscriptions(rig.db, [_stripe_sub()])
    rig.clock.set(START + timedelta(days=31, hours=1))
    report = rig.inline.run()  # the failed delivery is redelivered, like Pub/Sub would
    key = crashed[0]
    assert report.redeliveries == 1 and report.outcomes == {"charged": 1}
    assert state.charges == {key: 1} and state.requests[key] == 2
    assert (rig.db.collection(CHARGES).document(key).get().to_dict() or {})["status"] == "succeeded"
    outcome = rig.db.collection(OUTBOX).document(f"charge:{key}").get().to_dict() or {}
    assert outcome["status"] == "applied"
    sub = rig.db.collection("subscriptions").document("sub_s").get().to_dict() or {}
    assert sub["state"] == State.ACTIVE and sub["renewal_count"] == 1
