"""Parking: every authentic event is answered 2xx once stored, and what cannot be applied
yet is applied exactly once, in provider order, when what it waits for appears.

The service runs with the real Stripe verification and routes over the in-memory
ledger, audit trail and parking lot (the Firestore ones are held to the same
behaviour in tests/integration/ingest/test_parking_flow.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from refrain.domain.catalog import load_catalog
from refrain.domain.clock import FixedClock, utc
from refrain.ingest.parking import FIRST_CHECK, LONGEST_WAIT, ParkedEvent, next_check
from refrain.ingest.routes import WebhookSettings, card_routes
from refrain.ingest.service import WebhookService
from refrain.observability import get_logger
from refrain.outbox import OutboxPublisher
from refrain_tools.simulator import events
from tests.fakes.audit import RecordingAudit
from tests.fakes.ledger import MemoryLedger
from tests.fakes.outbox import RecordingRelay
from tests.fakes.parking import MemoryParkingLot
from tests.unit.fuzz.harness import STRIPE_SECRET, stripe_sign

T0 = utc(2026, 3, 1, 12)
SEK = load_catalog().offer("individual_monthly", "SE").price
JSON = {"Content-Type": "application/json"}


@dataclass
class Rig:
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    parking: MemoryParkingLot = field(default_factory=MemoryParkingLot)
    audit: RecordingAudit = field(default_factory=RecordingAudit)
    now: list[datetime] = field(default_factory=lambda: [T0 + timedelta(days=40)])

    def __post_init__(self) -> None:
        webhook = WebhookSettings.model_validate({"STRIPE_WEBHOOK_SECRET": STRIPE_SECRET})
        log = get_logger("test_parking")
        self.service = WebhookService(
            routes=card_routes(webhook),
            ledger=self.ledger,
            publisher=OutboxPublisher(RecordingRelay(), self.ledger, FixedClock(T0), log),
            audit=self.audit,
            parking=self.parking,
            catalog=load_catalog(),
            clock=lambda: self.now[0],
            log=log,
        )

    def post(self, event: dict[str, Any]) -> int:
        body = json.dumps(event).encode()
        headers = {**JSON, "Stripe-Signature": stripe_sign(body)}
        return self.service.handle("POST", "/stripe", headers, body).status

    def status(self, event: dict[str, Any]) -> str | None:
        entry = self.ledger.outbox.get(f"stripe:{event['id']}")
        return entry.status if entry else None


def _checkout(sub_id: str = "sub_park_1", pi: str = "pi_park_1") -> dict[str, Any]:
    return events.checkout_session_completed(
        at=T0,
        subscription_id=sub_id,
        account_id="acct_park_1",
        plan="individual_monthly",
        market="SE",
        amount=SEK,
        email="kim@example.com",
        locale="sv_SE",
        payment_intent=pi,
    )


def _checkout_payment(pi: str = "pi_park_1") -> dict[str, Any]:
    """The checkout's own PaymentIntent, as Stripe reports it (no metadata of ours)."""
    intent = events.payment_intent(
        at=T0 - timedelta(seconds=5),
        amount=SEK,
        customer="cus_park",
        payment_method="pm_ok",
        metadata={},
        succeeded=True,
        pi_id=pi,
    )
    return events.payment_intent_event(intent, T0 - timedelta(seconds=5))


def _billing(kind: str, at: datetime, period: int) -> dict[str, Any]:
    start = T0 + timedelta(days=31 * period)
    return events.billing_subscription(
        kind,
        at=at,
        stripe_subscription="sub_billing_1",
        customer="cus_billing_1",
        account_id="acct_billing_1",
        plan="individual_monthly",
        market="SE",
        amount=SEK,
        period_start=start,
        period_end=start + timedelta(days=31),
    )


def _invoice(at: datetime, period: int) -> dict[str, Any]:
    start = T0 + timedelta(days=31 * period)
    return events.billing_invoice(
        at=at,
        stripe_subscription="sub_billing_1",
        customer="cus_billing_1",
        amount=SEK,
        period_start=start,
        period_end=start + timedelta(days=31),
        paid=True,
        invoice_id=f"in_billing_{period}",
    )


def _same_state(a: Rig, b: Rig) -> None:
    assert a.ledger.subs.keys() == b.ledger.subs.keys()
    for sub_id, sub in a.ledger.subs.items():
        other = b.ledger.subs[sub_id]
        assert (sub.state, sub.current_period_end, sub.renewal_count) == (
            other.state,
            other.current_period_end,
            other.renewal_count,
        )
    assert {k: e.status for k, e in a.ledger.outbox.items()} == {
        k: e.status for k, e in b.ledger.outbox.items()
    }
    events_of = [e.type for entry in a.ledger.outbox.values() for e in entry.events]
    in_order = [e.type for entry in b.ledger.outbox.values() for e in entry.events]
    assert Counter(events_of) == Counter(in_order)


def test_a_payment_before_its_checkout_is_answered_200_parked_and_applied_once_it_exists() -> None:
    rig, ordered = Rig(), Rig()
    checkout, payment = _checkout(), _checkout_payment()

    assert rig.post(payment) == 200
    assert rig.status(payment) is None  # not applied, not refused: parked
    [parked] = rig.parking.parked.values()
    assert parked.waits_for == "ref:stripe:pi_park_1" and parked.next_check_at is not None
    assert rig.post(payment) == 200  # a redelivery keeps the one record
    assert len(rig.parking.parked) == 1

    assert rig.post(checkout) == 200
    assert rig.status(checkout) == "applied" and rig.status(payment) is not None
    assert rig.parking.parked == {}  # woken at creation, released once recorded

    assert ordered.post(checkout) == ordered.post(payment) == 200
    _same_state(rig, ordered)


def test_a_refund_before_its_payment_is_applied_once_the_payment_is_recorded() -> None:
    rig, ordered = Rig(), Rig()
    checkout = _checkout()
    refund = events.charge_refunded(
        at=T0 + timedelta(days=2), payment_intent="pi_park_1", amount=SEK, metadata={}
    )
    assert rig.post(refund) == 200
    [parked] = rig.parking.parked.values()
    assert parked.waits_for == "ref:stripe:pi_park_1"
    assert rig.post(checkout) == 200
    assert rig.status(refund) == "applied" and rig.parking.parked == {}
    assert ordered.post(checkout) == ordered.post(refund) == 200
    _same_state(rig, ordered)


def test_an_updated_that_overtook_created_waits_for_it_and_the_mirror_sees_every_period() -> None:
    created = _billing("created", T0, 0)
    paid_1 = _invoice(T0 + timedelta(minutes=1), 0)
    updated = _billing("updated", T0 + timedelta(days=31), 1)
    paid_2 = _invoice(T0 + timedelta(days=31, minutes=1), 1)
    rig, ordered = Rig(), Rig()
    for event in (updated, paid_2, paid_1):  # everything overtook `created`
        assert rig.post(event) == 200
    assert rig.ledger.subs == {} and len(rig.parking.parked) == 3
    assert rig.post(created) == 200  # wakes the three, in Stripe's order
    assert rig.parking.parked == {}
    for event in (created, paid_1, updated, paid_2):
        assert ordered.post(event) == 200
    _same_state(rig, ordered)
    [mirror] = rig.ledger.subs.values()
    assert mirror.renewal_count == 1  # the renewal of period 2 was seen, not skipped


class _LostWakeUp(MemoryParkingLot):
    """A lot whose first look-up fails: the process died right after the creation."""

    def waiting_for(self, keys: Sequence[str]) -> list[ParkedEvent]:
        if not self.calls.count("waiting_for"):
            self.calls.append("waiting_for")
            raise ConnectionError("instance stopped")
        return super().waiting_for(keys)


def test_the_sweep_applies_what_a_lost_wake_up_left_parked() -> None:
    rig = Rig(parking=_LostWakeUp())
    refund = events.charge_refunded(
        at=T0 + timedelta(days=2), payment_intent="pi_park_1", amount=SEK, metadata={}
    )
    assert rig.post(refund) == 200
    assert rig.post(_checkout()) == 200  # created; the wake-up is lost
    assert rig.status(refund) is None and len(rig.parking.parked) == 1
    assert rig.service.sweep_parked(rig.now[0]).due == 0  # its first check is a minute away

    rig.now[0] += FIRST_CHECK
    report = rig.service.sweep_parked(rig.now[0])
    assert (report.due, report.applied, report.waiting) == (1, 1, 0)
    assert rig.status(refund) == "applied" and rig.parking.parked == {}
    assert rig.service.sweep_parked(rig.now[0] + LONGEST_WAIT).due == 0  # applied once


def test_what_never_matches_stays_parked_with_backoff_and_is_listed() -> None:
    rig = Rig()
    foreign = _checkout_payment("pi_one_off_purchase")
    assert rig.post(foreign) == 200
    checks = []
    for _ in range(12):
        [parked] = rig.parking.parked.values()
        assert parked.next_check_at is not None
        rig.now[0] = parked.next_check_at
        report = rig.service.sweep_parked(rig.now[0])
        assert (report.due, report.applied, report.waiting) == (1, 0, 1)
        checks.append(rig.parking.parked[parked.key].checks)
    assert checks == list(range(1, 13))
    [listed] = rig.parking.listing(rig.now[0], 10)
    assert listed.event_type == "payment_intent.succeeded" and listed.reason
    assert rig.status(foreign) is None


def test_an_unknown_plan_is_answered_200_and_parked_for_an_operator() -> None:
    rig = Rig()
    checkout = _checkout()
    checkout["data"]["object"]["metadata"]["plan"] = "platinum_forever"
    assert rig.post(checkout) == 200
    [parked] = rig.parking.parked.values()
    assert parked.waits_for is None and parked.next_check_at is None  # never swept
    assert "platinum_forever" in parked.reason
    assert parked.event_type == "checkout.session.completed"  # listed in Stripe's words
    assert rig.ledger.subs == {}
    assert rig.audit.finished[-1][1] == "unmatched"
    assert rig.service.sweep_parked(rig.now[0] + timedelta(days=1)).due == 0


def test_a_replay_after_the_fix_applies_and_releases_the_unmatched_request() -> None:
    rig = Rig()
    checkout = _checkout()
    checkout["data"]["object"]["metadata"]["plan"] = "platinum_forever"
    assert rig.post(checkout) == 200
    [parked] = rig.parking.parked.values()
    stored = rig.audit.stored[parked.audit_id]
    fixed = json.loads(stored.body)
    fixed["data"]["object"]["metadata"]["plan"] = "individual_monthly"
    answer = rig.service.replay("stripe", json.dumps(fixed).encode(), parked.audit_id)
    assert answer.status == 200
    assert rig.parking.parked == {} and "sub_park_1" in rig.ledger.subs


def test_parking_adds_nothing_to_events_for_known_subscriptions() -> None:
    rig = Rig()
    assert rig.post(_checkout()) == 200  # a creation: one look for what waits for it
    assert rig.parking.calls == ["waiting_for"]
    payment = _checkout_payment()  # an event for a subscription we know
    assert rig.post(payment) == 200
    assert rig.status(payment) is not None
    assert rig.parking.calls == ["waiting_for"]  # the common path never touches parking


@given(st.integers(min_value=0, max_value=10_000))
def test_checks_back_off_from_a_minute_to_six_hours(checks: int) -> None:
    wait = next_check(T0, checks) - T0
    assert FIRST_CHECK <= wait <= LONGEST_WAIT
    assert next_check(T0, checks + 1) - T0 >= wait


def test_a_parked_event_is_recorded_as_parked_in_the_audit_outcome() -> None:
    rig = Rig()
    assert rig.post(_checkout_payment()) == 200
    assert rig.audit.finished[-1][1] == "parked"


class _Contended(MemoryLedger):
    """A ledger whose next ``failures`` applies fail as Firestore contention would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def apply(self, command: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("transaction aborted after its retries")
        return super().apply(command)


class _FullLot(MemoryParkingLot):
    def park(self, event: ParkedEvent) -> None:
        raise RuntimeError("Firestore unavailable")


def test_a_stored_request_that_fails_to_apply_is_acknowledged_and_the_sweep_applies_it() -> None:
    rig = Rig(ledger=_Contended(failures=2))
    checkout = _checkout()
    assert rig.post(checkout) == 200  # stored: acknowledged, never left to the provider's retry
    [parked] = rig.parking.parked.values()
    assert parked.waits_for == "retry" and parked.next_check_at == rig.now[0] + FIRST_CHECK
    assert rig.status(checkout) is None
    rig.now[0] += FIRST_CHECK
    report = rig.service.sweep_parked(rig.now[0])  # contended again: looked at later
    assert (report.applied, report.waiting) == (0, 1) and rig.status(checkout) is None
    rig.now[0] += LONGEST_WAIT
    report = rig.service.sweep_parked(rig.now[0])
    assert (report.applied, report.waiting) == (1, 0)
    assert rig.status(checkout) == "applied" and rig.parking.parked == {}
    assert rig.post(checkout) == 200 and rig.status(checkout) == "applied"  # once


def test_only_a_failure_that_cannot_even_be_parked_is_left_to_the_provider() -> None:
    rig = Rig(ledger=_Contended(failures=1), parking=_FullLot())
    assert rig.post(_checkout()) == 503


class _Slow(MemoryLedger):
    """A ledger whose apply fails after ``waited_s`` on the service's monotonic clock."""

    def __init__(self, ticks: list[float], waited_s: float) -> None:
        super().__init__()
        self.ticks, self.waited_s = ticks, waited_s

    def apply(self, command: Any) -> Any:
        self.ticks[0] += self.waited_s
        raise RuntimeError("deadline exceeded")


def _bounded(waited_s: float, parking: MemoryParkingLot | None = None) -> Rig:
    ticks = [100.0]
    rig = Rig(ledger=_Slow(ticks, waited_s), parking=parking or MemoryParkingLot())
    rig.service.store_deadline_s = 2.0
    rig.service.monotonic = lambda: ticks[0]
    return rig


def test_a_store_that_did_not_answer_gets_a_503_at_once_without_more_writes() -> None:
    rig = _bounded(waited_s=4.0)  # two deadlines spent: a parking would wait a third
    assert rig.post(_checkout()) == 503
    assert rig.parking.parked == {} and rig.audit.finished == []


def test_a_failure_within_one_deadline_is_still_parked_and_acknowledged() -> None:
    rig = _bounded(waited_s=3.5)  # a lock wait that ran out once, and the rollback: parked
    assert rig.post(_checkout()) == 200
    [parked] = rig.parking.parked.values()
    assert parked.waits_for == "retry"
    assert rig.audit.finished[-1][1] == "failed"


def test_when_the_parking_fails_too_the_outcome_is_not_written_either() -> None:
    rig = _bounded(waited_s=0.5, parking=_FullLot())
    assert rig.post(_checkout()) == 503
    assert rig.audit.finished == []
