"""Price changes on the local stack: scheduled, told through the ledger and outbox, and
charged (or ended) by the real tick and charge worker at the renewal the notice allows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from google.cloud import firestore

from refrain.adapters.firestore_collections import CHARGES, OUTBOX
from refrain.adapters.firestore_outbox import events_of
from refrain.adapters.firestore_renewals import seed_subscriptions
from refrain.bootstrap import build_care_service, build_price_service
from refrain.care.actions import Action, CareRequest
from refrain.domain.events import DomainEvent, EventType
from refrain.domain.money import Money
from refrain.domain.subscription import evolve
from refrain.pricing.schedule import PriceChangeRow
from refrain.settings import CloudSettings
from refrain_tools.renewals.population import active_subscription
from tests.integration.renewals.conftest import START, Rig, make_rig

pytestmark = pytest.mark.integration
TOLD = START + timedelta(days=14)  # 15 January; SE and DE give 30 days' notice
EFFECTIVE = TOLD + timedelta(days=30)  # 14 February


def _sub(rig: Rig, sid: str) -> dict[str, Any]:
    return rig.db.collection("subscriptions").document(sid).get().to_dict() or {}


def _charges(rig: Rig, sid: str) -> list[tuple[int, str]]:
    query = rig.db.collection(CHARGES).where(
        filter=firestore.FieldFilter("subscription_id", "==", sid)
    )
    docs = sorted((d.to_dict() or {} for d in query.stream()), key=lambda d: d["claimed_at"])
    return [(int(d["amount"]), str(d["status"])) for d in docs]


def _events(rig: Rig, sid: str) -> list[DomainEvent]:
    query = rig.db.collection(OUTBOX).where(
        filter=firestore.FieldFilter("subscription_id", "==", sid)
    )
    return [e for d in query.stream() for e in events_of(d.to_dict() or {})]


def _renew_at(rig: Rig, day: int) -> None:
    rig.clock.set(START + timedelta(days=day, hours=1))
    rig.inline.run()


def test_a_noticed_price_is_charged_once_from_the_first_renewal_with_full_notice(
    cloud: CloudSettings,
) -> None:
    rig = make_rig(cloud, duplicate=True)  # every tick twice, every message twice
    near = active_subscription("sub_near", payment_method_ref="pm_sandbox_ok", period_start=START)
    far = active_subscription("sub_far", payment_method_ref="pm_sandbox_ok",
                              period_start=START + timedelta(days=19))  # fmt: skip
    seed_subscriptions(rig.db, [near, far])  # renew on 1 February and 20 February
    rig.clock.set(TOLD)
    prices = build_price_service(cloud, rig.clock)
    [change] = prices.schedule([PriceChangeRow("individual_monthly", "SE", "149", EFFECTIVE)])
    report = prices.notify(change.change_id)
    assert (report.subscribers, report.notified) == (2, 2)
    assert prices.notify(change.change_id).already == 2  # a second run tells nobody twice
    told = [e for e in _events(rig, "sub_near") if e.type is EventType.PRICE_CHANGE_SCHEDULED]
    assert len(told) == 1 and told[0].payload["applies_from"].startswith("2025-03-01")
    assert _sub(rig, "sub_far")["price_change"]["applies_from"].startswith("2025-02-20")

    _renew_at(rig, 31)  # 1 February: sub_near's renewal is before the effective date
    _renew_at(rig, 50)  # 20 February: sub_far's, the first with 30 days' notice
    _renew_at(rig, 59)  # 1 March: sub_near's next one
    assert _charges(rig, "sub_near") == [(11900, "succeeded"), (14900, "succeeded")]
    assert _charges(rig, "sub_far") == [(14900, "succeeded")]
    assert max(rig.sandbox.successes.values()) == 1  # one charge per period, duplicates and all
    for sid in ("sub_near", "sub_far"):
        stored = _sub(rig, sid)
        assert stored["price"] == {"amount": 14900, "currency": "SEK"}
        assert stored["price_change"] is None
    paid = [
        e.payload["amount"] for e in _events(rig, "sub_far") if e.type is EventType.INVOICE_PAID
    ]
    assert paid == [14900]


def test_without_consent_a_consent_market_ends_the_subscription_at_its_period_end(
    cloud: CloudSettings,
) -> None:
    rig = make_rig(cloud)
    eur = Money(1099, "EUR")
    subs = [
        evolve(active_subscription(sid, payment_method_ref="pm_sandbox_ok", price=eur,
                                   period_start=START + timedelta(days=19)), {"market": "DE"})
        for sid in ("sub_silent", "sub_agreed")
    ]  # fmt: skip
    seed_subscriptions(rig.db, subs)  # both renew on 20 February
    rig.clock.set(TOLD)
    prices = build_price_service(cloud, rig.clock)
    [change] = prices.schedule([PriceChangeRow("individual_monthly", "DE", "11.99", EFFECTIVE)])
    assert change.consent_required and prices.notify(change.change_id).notified == 2
    rig.clock.set(TOLD + timedelta(days=3))
    care = build_care_service(cloud, rig.clock)
    agreed = care.perform(CareRequest(Action.CONSENT_PRICE, "sub_agreed", "consent-1"))
    assert agreed.ok, agreed.reason

    _renew_at(rig, 50)
    silent = _sub(rig, "sub_silent")
    assert silent["state"] == "expired" and silent["churn_type"] == "voluntary"
    assert (
        silent["ended_at"].startswith("2025-02-20") and silent["cancel_reason"] == "price_increase"
    )
    assert _charges(rig, "sub_silent") == []  # never charged the new price
    [ended] = [e for e in _events(rig, "sub_silent") if e.type is EventType.EXPIRED]
    assert ended.payload["cancel_reason"] == "price_increase"
    assert _charges(rig, "sub_agreed") == [(1199, "succeeded")]
    assert _sub(rig, "sub_agreed")["state"] == "active"
