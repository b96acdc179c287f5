"""Upgrades that bill, end to end on the local stack: the care action claims the prorated
charge, the renewal worker charges it once through the real Stripe and Adyen libraries
(against the local provider stand-in), and the plan changes only when it is paid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from refrain.adapters.firestore_collections import CHARGES, OUTBOX
from refrain.adapters.firestore_outbox import events_of
from refrain.adapters.firestore_renewals import seed_subscriptions
from refrain.adapters.gateway_adyen import AdyenGateway
from refrain.adapters.gateway_stripe import StripeGateway
from refrain.bootstrap import build_care_service
from refrain.care.actions import Action, CareRequest, CareService
from refrain.renewals.gateway import GatewayCharge
from refrain.settings import CloudSettings
from refrain_tools.renewals.population import active_subscription
from tests.integration.renewals.conftest import START, Rig, make_rig
from tests.integration.renewals.providers import ProviderState, provider_server

pytestmark = pytest.mark.integration
AT = START + timedelta(days=14)


@pytest.fixture
def server() -> Iterator[tuple[str, ProviderState]]:
    with provider_server() as running:
        yield running


def _care(cloud: CloudSettings, rig: Rig) -> CareService:
    care = build_care_service(cloud, rig.clock)
    care.charges = rig.inline.queue  # the renewal-charges topic, delivered in process
    return care


def _upgrade(care: CareService, sid: str, request_id: str = "req-up-1") -> Any:
    return care.perform(CareRequest(Action.CHANGE_PLAN, sid, request_id, plan="family_monthly"))


def _doc(rig: Rig, collection: str, doc_id: str) -> dict[str, Any]:
    return rig.db.collection(collection).document(doc_id).get().to_dict() or {}


def test_an_upgrade_charges_once_through_stripe_and_applies_when_paid(
    cloud: CloudSettings, server: tuple[str, ProviderState]
) -> None:
    base, state = server
    rig = make_rig(cloud, gateway=StripeGateway.create("sk_test_local", base))
    crashed: list[str] = []

    def crash(request: GatewayCharge) -> None:
        if not crashed:  # fault injection: between the provider's answer and our record
            crashed.append(request.charge_id)
            raise RuntimeError("instance killed after the provider answered")

    rig.inline.worker.crash_after_gateway = crash
    seed_subscriptions(rig.db, [active_subscription("sub_up", payment_method_ref="cus_9:pm_ok",
                                                    period_start=START)])  # fmt: skip
    rig.clock.set(AT)
    result = _upgrade(_care(cloud, rig), "sub_up")
    assert result.ok and result.charge is not None and result.charge.purpose == "proration"
    key = result.charge.idempotency_key
    waiting = _doc(rig, "subscriptions", "sub_up")
    assert waiting["plan"] == "individual_monthly" and waiting["upgrade"]["charge_id"] == key
    assert _doc(rig, CHARGES, key)["status"] == "pending"  # claimed with the request
    messages = rig.inline.queue.take()
    rig.inline.queue.send(messages * 2)  # Pub/Sub delivers it twice
    report = rig.inline.run()
    assert report.redeliveries == 1 and crashed == [key]
    assert state.charges == {key: 1}  # one charge at the provider
    assert int(state.bodies[0]["amount"]) == result.charge.amount.amount
    assert _doc(rig, CHARGES, key)["status"] == "succeeded"
    paid = _doc(rig, "subscriptions", "sub_up")
    assert paid["plan"] == "family_monthly" and paid["upgrade"] is None
    events = events_of(_doc(rig, OUTBOX, f"charge:{key}"))
    assert [e.type.value for e in events] == ["subscription.plan_changed", "invoice.paid"]
    invoice = events[1].payload
    assert invoice["amount"] == result.charge.amount.amount
    assert invoice["billing_reason"] == "subscription_update" and invoice["charge_id"] == key


def test_a_declined_adyen_upgrade_keeps_the_plan_and_a_retry_charges_nothing_twice(
    cloud: CloudSettings, server: tuple[str, ProviderState]
) -> None:
    base, state = server
    gateway = AdyenGateway.create("AQE_test", "RefrainECOM", checkout_url=base, timeout_s=1)
    rig = make_rig(cloud, gateway=gateway)
    seed_subscriptions(rig.db, [active_subscription(
        "sub_ad", payment_method_ref="acct_sub_ad:tok_insufficient_funds", period_start=START,
        provider="adyen")])  # fmt: skip
    rig.clock.set(AT)
    care = _care(cloud, rig)
    result = _upgrade(care, "sub_ad")
    assert result.charge is not None
    key = result.charge.idempotency_key
    again = _upgrade(care, "sub_ad")  # the operator retries the same request
    assert again.status.value == "duplicate"
    sent = rig.inline.queue.take()
    assert [m.input_id for m in sent] == [key, key]  # sent again while the upgrade waited
    rig.inline.queue.send(sent)
    report = rig.inline.run()
    assert report.outcomes["declined"] == 1  # the second delivery finds it decided
    assert state.requests[key] == 1 and state.charges.get(key, 0) == 0  # refused once
    declined = _doc(rig, "subscriptions", "sub_ad")
    assert declined["plan"] == "individual_monthly" and declined["upgrade"] is None
    assert declined["state"] == "active" and declined["failed_attempts"] == 0
    events = events_of(_doc(rig, OUTBOX, f"charge:{key}"))
    assert [e.type.value for e in events] == ["subscription.plan_change_declined"]
    assert _doc(rig, CHARGES, key)["status"] == "declined"


class _LostQueue:
    """A publish that never arrives (a queue that was down, a lost message)."""

    def send(self, messages: object) -> None:
        return None


def test_the_tick_requeues_an_upgrade_whose_charge_never_arrived(
    cloud: CloudSettings, server: tuple[str, ProviderState]
) -> None:
    base, state = server
    rig = make_rig(cloud, gateway=StripeGateway.create("sk_test_local", base))
    seed_subscriptions(rig.db, [active_subscription("sub_lost", payment_method_ref="cus_9:pm_ok",
                                                    period_start=START)])  # fmt: skip
    rig.clock.set(AT)
    care = build_care_service(cloud, rig.clock)
    care.charges = _LostQueue()
    key = _upgrade(care, "sub_lost").charge.idempotency_key
    assert rig.inline.run().outcomes == {}  # nothing due yet, nothing charged
    rig.clock.set(AT + timedelta(minutes=6))  # past the requeue wait
    report = rig.inline.run()
    assert report.outcomes["charged"] == 1 and state.charges == {key: 1}
    assert _doc(rig, "subscriptions", "sub_lost")["plan"] == "family_monthly"
    rig.clock.set(AT + timedelta(minutes=12))
    assert rig.inline.run().outcomes == {}  # settled: nothing requeued
