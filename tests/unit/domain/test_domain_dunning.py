"""Dunning: soft declines walk active -> past_due -> on_hold -> expired on schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest

from refrain.domain import (
    ChurnType,
    DunningPolicy,
    EventType,
    ManualClock,
    PaymentMethodUpdated,
    State,
    next_deadline,
)

from .builders import T0, active_sub, fail, new_id, run_timers, step, succeed

pytestmark = pytest.mark.unit
DAY = timedelta(days=1)


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="increasing"):
        DunningPolicy.from_days((3, 1), 7, 23)
    with pytest.raises(ValueError, match="positive"):
        DunningPolicy.from_days((0, 1), 7, 23)
    with pytest.raises(ValueError, match="before the hold is over"):
        DunningPolicy.from_days((1, 40), 7, 23)


def test_next_retry_skips_past_offsets() -> None:
    policy = DunningPolicy.from_days((1, 3, 5, 7), 7, 23)
    assert policy.next_retry_at(T0, T0) == T0 + DAY
    assert policy.next_retry_at(T0, T0 + DAY) == T0 + 3 * DAY
    assert policy.next_retry_at(T0, T0 + 4 * DAY) == T0 + 5 * DAY
    assert policy.next_retry_at(T0, T0 + 7 * DAY) is None


def test_soft_declines_walk_to_involuntary_churn_at_configured_times() -> None:
    policy = DunningPolicy.from_days((1, 3, 5, 7, 14, 21), grace_days=7, hold_days=23)
    sub = active_sub()
    renewal = sub.current_period_end
    assert renewal is not None
    clock = ManualClock(renewal)
    seen: list[tuple[int, State, int]] = []  # (day, state, failed attempts)

    def decline(s: object, at: object) -> object:
        return fail(s, at)  # type: ignore[arg-type]

    while sub.state is not State.EXPIRED:
        deadline = next_deadline(sub)
        assert deadline is not None, sub
        clock.set(deadline)
        sub, _ = run_timers(sub, clock.now(), decline, policy)  # type: ignore[arg-type]
        seen.append(((clock.now() - renewal).days, sub.state, sub.failed_attempts))

    assert seen == [
        (0, State.PAST_DUE, 1),
        (1, State.PAST_DUE, 2),
        (3, State.PAST_DUE, 3),
        (5, State.PAST_DUE, 4),
        (7, State.ON_HOLD, 5),  # grace over, then the day-7 retry fails on hold
        (14, State.ON_HOLD, 6),
        (21, State.ON_HOLD, 7),
        (30, State.EXPIRED, 7),
    ]
    assert sub.churn_type is ChurnType.INVOLUNTARY
    assert sub.ended_at == renewal + 30 * DAY
    assert sub.next_charge_at is None


def test_success_during_grace_recovers_and_keeps_billing_date() -> None:
    sub = active_sub()
    renewal = sub.current_period_end
    assert renewal is not None
    sub, _ = run_timers(sub, renewal, fail)
    assert sub.state is State.PAST_DUE and sub.has_access
    retry_at = sub.next_charge_at
    assert retry_at == renewal + DAY
    sub, outs = run_timers(sub, retry_at, succeed)
    assert sub.state is State.ACTIVE
    types = [t for o in outs for t in o.event_types]
    assert EventType.RECOVERED in types and EventType.INVOICE_PAID in types
    assert sub.current_period_start == renewal  # grace recovery: billing date unchanged
    assert sub.failed_attempts == 0 and sub.attempt == 0 and sub.grace_until is None
    assert sub.renewal_count == 1


def test_success_during_hold_starts_a_fresh_period() -> None:
    sub = active_sub()
    renewal = sub.current_period_end
    assert renewal is not None
    clock = ManualClock(renewal)
    while sub.state is not State.ON_HOLD:
        deadline = next_deadline(sub)
        assert deadline is not None
        clock.set(deadline)
        sub, _ = run_timers(sub, clock.now(), fail)
    assert not sub.has_access
    paid_at = clock.now() + timedelta(days=2)
    sub = step(
        sub, PaymentMethodUpdated(input_id=new_id(), occurred_at=paid_at, payment_method_ref="pm_2")
    ).subscription
    sub, outs = run_timers(sub, paid_at, succeed)
    assert sub.state is State.ACTIVE
    assert sub.current_period_start == paid_at
    assert [
        e.payload["from_state"] for o in outs for e in o.events if e.type is EventType.RECOVERED
    ] == ["on_hold"]


def test_hard_decline_stops_retries_until_payment_method_updated() -> None:
    sub = active_sub()
    renewal = sub.current_period_end
    assert renewal is not None
    sub, outs = run_timers(sub, renewal, lambda s, at: fail(s, at, "stolen_card"))
    assert sub.state is State.PAST_DUE
    assert sub.next_charge_at is None and sub.retry_blocked
    failed = next(e for o in outs for e in o.events if e.type is EventType.PAYMENT_FAILED)
    assert failed.payload["hard_decline"] is True
    assert failed.payload["decline_category"] == "fraud_or_stolen"
    # nothing is due but the grace clock
    assert next_deadline(sub) == sub.grace_until
    later = renewal + 2 * DAY
    out = step(
        sub, PaymentMethodUpdated(input_id=new_id(), occurred_at=later, payment_method_ref="pm_new")
    )
    assert out.subscription.next_charge_at == later and not out.subscription.retry_blocked
    sub, _ = run_timers(out.subscription, later, succeed)
    assert sub.state is State.ACTIVE and sub.payment_method_ref == "pm_new"


def test_charge_lease_re_drives_the_same_idempotency_key() -> None:
    sub = active_sub()
    renewal = sub.current_period_end
    assert renewal is not None
    sub, outs = run_timers(sub, renewal)  # charge requested, no outcome arrives
    first = outs[0].charge
    assert first is not None and sub.charge_pending
    later = renewal + timedelta(hours=2)
    sub, outs = run_timers(sub, later)
    again = outs[0].charge
    assert again is not None
    assert again.idempotency_key == first.idempotency_key
    assert again.attempt == first.attempt == 1


def test_retries_use_new_attempt_numbers_and_keys() -> None:
    sub = active_sub()
    renewal = sub.current_period_end
    assert renewal is not None
    keys = []
    sub, outs = run_timers(sub, renewal, fail)
    keys.append(outs[0].charge.idempotency_key if outs[0].charge else None)
    sub, outs = run_timers(sub, renewal + DAY, fail)
    keys.append(outs[0].charge.idempotency_key if outs[0].charge else None)
    assert keys[0] != keys[1]
    assert keys[0] is not None and keys[0].endswith(":1")
    assert keys[1] is not None and keys[1].endswith(":2")
