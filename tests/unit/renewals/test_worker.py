"""The charge worker over the in-memory ledger: claim, charge once, record, dunning."""

from __future__ import annotations

from datetime import timedelta

import pytest

from refrain.domain import ManualClock, PaymentSucceeded, State, Subscription
from refrain.domain.clock import utc
from refrain.domain.machine import due_timers
from refrain.ledger import LedgerCommand, LedgerStatus
from refrain.renewals import sandbox
from refrain.renewals.gateway import GatewayCharge, GatewayUnavailable
from refrain.renewals.messages import ChargeMessage
from refrain_tools.renewals.population import active_subscription
from tests.unit.renewals.harness import Harness, harness

START = utc(2025, 3, 1)
DUE = utc(2025, 4, 1)


def sub_with(pm: str, sid: str = "sub_1") -> Subscription:
    return active_subscription(sid, payment_method_ref=pm, period_start=START)


def message_for(h: Harness, sid: str = "sub_1") -> ChargeMessage:
    timers = due_timers(h.ledger.subs[sid], h.clock.now())
    assert timers, "nothing due"
    return ChargeMessage.for_timer(sid, timers[0])


def test_renewal_charges_once_and_starts_the_next_period() -> None:
    h = harness([sub_with(sandbox.OK)], ManualClock(DUE))
    report = h.worker.handle(message_for(h))
    sub = h.ledger.subs["sub_1"]
    assert report.outcome == "charged" and report.charge_id == "sub_1:20250401T000000Z:1"
    assert [e.type.value for e in report.events] == [
        "subscription.renewed",
        "invoice.paid",
    ]
    assert sub.state is State.ACTIVE and sub.current_period_end == utc(2025, 5, 1)
    assert h.ledger.charges["sub_1:20250401T000000Z:1"]["status"] == "succeeded"
    assert h.gateway.calls == {"sub_1:20250401T000000Z:1": 1}


def test_soft_decline_schedules_the_policy_retry_with_a_new_key() -> None:
    h = harness([sub_with(sandbox.INSUFFICIENT_FUNDS)], ManualClock(DUE))
    assert h.worker.handle(message_for(h)).outcome == "declined"
    sub = h.ledger.subs["sub_1"]
    assert sub.state is State.PAST_DUE and sub.next_charge_at == DUE + timedelta(days=1)
    h.clock.set(DUE + timedelta(days=1))
    report = h.worker.handle(message_for(h))
    assert report.charge_id == "sub_1:20250401T000000Z:2"  # attempt moves only after a decline


def test_hard_decline_stops_retries_then_grace_and_hold_expire_it() -> None:
    h = harness([sub_with(sandbox.STOLEN)], ManualClock(DUE))
    h.worker.handle(message_for(h))
    sub = h.ledger.subs["sub_1"]
    assert sub.state is State.PAST_DUE and sub.next_charge_at is None and sub.retry_blocked
    h.clock.set(sub.grace_until)  # type: ignore[arg-type]
    assert h.worker.handle(message_for(h)).events[0].type.value == "subscription.on_hold"
    h.clock.set(sub.hold_until)  # type: ignore[arg-type]
    h.worker.handle(message_for(h))
    final = h.ledger.subs["sub_1"]
    assert final.state is State.EXPIRED and final.churn_type.value == "involuntary"  # type: ignore[union-attr]
    assert sum(h.gateway.calls.values()) == 1


def test_transient_error_raises_and_the_redelivery_reuses_the_key() -> None:
    h = harness([sub_with(sandbox.TIMEOUT)], ManualClock(DUE))
    message = message_for(h)
    with pytest.raises(GatewayUnavailable):
        h.worker.handle(message)
    assert h.ledger.subs["sub_1"].charge_pending  # claimed, undecided
    report = h.worker.handle(message)  # Pub/Sub redelivers the same message
    assert report.outcome == "charged"
    assert h.gateway.calls == {"sub_1:20250401T000000Z:1": 2} and h.gateway.charges == 1


def test_crash_between_gateway_and_record_charges_once() -> None:
    h = harness([sub_with(sandbox.OK)], ManualClock(DUE))
    crashes: list[str] = []

    def crash(request: GatewayCharge) -> None:
        if not crashes:
            crashes.append(request.charge_id)
            raise RuntimeError("killed after the provider answered")

    h.worker.crash_after_gateway = crash
    message = message_for(h)
    with pytest.raises(RuntimeError):
        h.worker.handle(message)
    assert h.worker.handle(message).outcome == "charged"
    assert h.worker.handle(message).outcome == "duplicate"  # a third delivery: nothing
    assert h.gateway.charges == 1 and h.ledger.subs["sub_1"].renewal_count == 1
    recorded = [k for k in h.ledger.outbox if k.startswith("charge:")]
    assert recorded == ["charge:sub_1:20250401T000000Z:1"]


def test_lease_expiry_redrives_the_same_key() -> None:
    h = harness([sub_with(sandbox.OK)], ManualClock(DUE))
    h.worker.crash_after_gateway = lambda _: (_ for _ in ()).throw(RuntimeError("crash"))
    with pytest.raises(RuntimeError):
        h.worker.handle(message_for(h))
    h.worker.crash_after_gateway = None
    h.clock.advance(hours=2)  # the tick finds it again after the charge lease
    report = h.worker.handle(message_for(h))
    assert report.outcome == "charged" and report.charge_id == "sub_1:20250401T000000Z:1"
    assert h.ledger.charges[report.charge_id]["drives"] == 2 and h.gateway.charges == 1


def test_webhook_confirmation_first_makes_the_worker_record_a_no_op() -> None:
    h = harness([sub_with(sandbox.OK)], ManualClock(DUE))
    h.worker.crash_after_gateway = lambda _: (_ for _ in ()).throw(RuntimeError("crash"))
    message = message_for(h)
    with pytest.raises(RuntimeError):
        h.worker.handle(message)
    charge_id = "sub_1:20250401T000000Z:1"
    webhook = PaymentSucceeded(
        input_id="evt_stripe_1", occurred_at=DUE, charge_id=charge_id,
        amount=h.ledger.subs["sub_1"].price, charge_period=DUE, attempt=1,
    )  # fmt: skip
    result = h.ledger.apply(LedgerCommand("stripe:evt_stripe_1", "sub_1", webhook, DUE, "stripe"))
    assert result.status is LedgerStatus.APPLIED
    h.worker.crash_after_gateway = None
    assert h.worker.handle(message).outcome == "duplicate"  # nothing pending any more
    assert h.ledger.subs["sub_1"].renewal_count == 1 and h.gateway.charges == 1


def test_webhook_confirmation_after_the_worker_is_a_duplicate() -> None:
    h = harness([sub_with(sandbox.OK)], ManualClock(DUE))
    h.worker.handle(message_for(h))
    charge_id = "sub_1:20250401T000000Z:1"
    webhook = PaymentSucceeded(
        input_id="evt_stripe_2", occurred_at=DUE, charge_id=charge_id,
        amount=h.ledger.subs["sub_1"].price, charge_period=DUE, attempt=1,
    )  # fmt: skip
    before = h.ledger.subs["sub_1"]
    result = h.ledger.apply(LedgerCommand("stripe:evt_stripe_2", "sub_1", webhook, DUE, "stripe"))
    assert result.status is LedgerStatus.DUPLICATE and h.ledger.subs["sub_1"] is before


def test_unknown_and_expired_subscriptions_change_nothing() -> None:
    expired = sub_with(sandbox.OK, "sub_x")
    h = harness([expired], ManualClock(DUE))
    unknown = ChargeMessage.for_timer("nope", due_timers(expired, DUE)[0])
    unknown = ChargeMessage("nope", unknown.kind, "nope:renewal_due:2025-04-01T00:00:00+00:00")
    assert h.worker.handle(unknown).outcome == "no_subscription"
    h.ledger.subs["sub_x"] = h.ledger.subs["sub_x"].__class__(
        **{**h.ledger.subs["sub_x"].__dict__, "state": State.EXPIRED}
    )
    before = h.ledger.subs["sub_x"]
    message = ChargeMessage("sub_x", unknown.kind, "sub_x:renewal_due:2025-04-01T00:00:00+00:00")
    assert h.worker.handle(message).outcome == "illegal"
    assert h.ledger.subs["sub_x"] is before and not h.ledger.charges and not h.gateway.calls
