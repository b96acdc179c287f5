"""Transition handlers for merchant-managed billing and the inputs both modes share.

Each handler gets the current aggregate and returns a :class:`Step` (field
changes + event drafts) or a string: the reason the input is illegal now.
They never raise for business-level refusals. All times written into the
aggregate come from the input's ``occurred_at``; ``now`` is only used by the
machine to refuse inputs from the future, so a replay is deterministic.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from refrain.domain.clock import isoformat
from refrain.domain.dunning import DunningPolicy
from refrain.domain.events import EventType
from refrain.domain.inputs import (
    CheckoutCompleted,
    GracePeriodOver,
    HoldOver,
    PaymentFailed,
    PaymentSucceeded,
    RenewalDue,
)
from refrain.domain.money import Money
from refrain.domain.outcome import Step, new_charge_request
from refrain.domain.retry import network_forbids
from refrain.domain.smart_retry import decide_retry
from refrain.domain.subscription import (
    BillingMode,
    ChurnType,
    State,
    Subscription,
    add_months,
)

Result = Step | str

# Lifecycle states and billing modes, bound once. On Python 3.11 every
# ``State.X`` lookup takes EnumType.__getattr__'s slow path (about 7x a plain
# attribute) and a transition makes a dozen of them, so the handler modules
# compare against these names instead.
PENDING, TRIALING, ACTIVE = State.PENDING, State.TRIALING, State.ACTIVE
PAST_DUE, ON_HOLD, PAUSED, EXPIRED = State.PAST_DUE, State.ON_HOLD, State.PAUSED, State.EXPIRED
MERCHANT_MANAGED = BillingMode.MERCHANT_MANAGED
PROVIDER_MANAGED = BillingMode.PROVIDER_MANAGED

LIVE = (ACTIVE, TRIALING)
DUNNING = (PAST_DUE, ON_HOLD)
LIVE_OR_DUNNING = LIVE + DUNNING
PROVIDER_OWNS = "provider-managed subscription: the provider decides this; mirror its state"


def iso(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)


def period_fields(start: datetime, end: datetime) -> dict[str, str]:
    """The ISO pair that period-carrying payloads repeat, formatted once per transition."""
    return {"period_start": isoformat(start), "period_end": isoformat(end)}


def expire(sub: Subscription, step: Step, at: datetime, churn: ChurnType) -> Step:
    """Shared end of life: clear every clock, emit the churn signal."""
    step.changes.update(
        state=EXPIRED,
        ended_at=at,
        churn_type=churn,
        cancel_at_period_end=False,
        next_charge_at=None,
        charge_pending=False,
        grace_until=None,
        hold_until=None,
        paused_at=None,
        resume_at=None,
        pending_plan=None,
        upgrade=None,
    )
    tenure = sub.tenure(at).days if sub.started_at and at > sub.started_at else 0
    step.emit(
        EventType.EXPIRED,
        churn_type=churn.value,
        started_at=iso(sub.started_at),
        ended_at=iso(at),
        tenure_days=tenure,
        cancel_reason=step.changes.get("cancel_reason", sub.cancel_reason),
    )
    return step


def emit_invoice_paid(
    step: Step, *, charge_id: str | None, amount: Money, period: dict[str, str], reason: str,
    attempt: int, tax: Money | None = None,
) -> None:  # fmt: skip
    """``tax``: the tax inside ``amount`` where it was added on top (tax-exclusive markets)."""
    step.emit(
        EventType.INVOICE_PAID,
        charge_id=charge_id,
        amount=amount.amount,
        currency=amount.currency,
        **period,
        billing_reason=reason,
        attempt=attempt,
        tax=None if tax is None else tax.amount,
    )


def new_paid_period(start: datetime, end: datetime) -> dict[str, Any]:
    """The changes that start a paid period ``start``..``end``, anchoring the cycle there."""
    return {
        "current_period_start": start,
        "current_period_end": end,
        "paid_through": end,
        "cycle_anchor": start,
        "cycles_since_anchor": 1,
        "next_charge_at": end,
    }


def _first_period(
    sub: Subscription, step: Step, start: datetime, from_trial: bool
) -> dict[str, str]:
    """Activate with a first paid period from ``start``; returns its ISO period fields."""
    end = add_months(start, sub.interval_months)
    step.changes.update(new_paid_period(start, end))
    step.changes.update(
        state=ACTIVE,
        charge_pending=False,
        attempt=0,
        failed_attempts=0,
        retry_blocked=False,
        last_decline=None,
        grace_until=None,
        hold_until=None,
    )
    if sub.started_at is None:
        step.changes["started_at"] = start
    period = period_fields(start, end)
    step.emit(
        EventType.ACTIVATED,
        **period,
        amount=sub.price.amount,
        currency=sub.currency,
        from_trial=from_trial,
    )
    return period


def checkout_completed(sub: Subscription, inp: CheckoutCompleted, policy: DunningPolicy) -> Result:
    if sub.state is not PENDING:
        return f"checkout already completed (state {sub.state})"
    step = Step({"payment_method_ref": inp.payment_method_ref or sub.payment_method_ref})
    at = inp.occurred_at
    if inp.trial_days > 0:
        if sub.billing_mode is PROVIDER_MANAGED:
            return PROVIDER_OWNS
        trial_end = at + timedelta(days=inp.trial_days)
        step.changes.update(
            state=TRIALING,
            started_at=at,
            current_period_start=at,
            current_period_end=trial_end,
            trial_end=trial_end,
            cycle_anchor=trial_end,
            cycles_since_anchor=0,
            next_charge_at=trial_end if sub.billing_mode is MERCHANT_MANAGED else None,
        )
        step.emit(EventType.TRIAL_STARTED, trial_end=iso(trial_end))
        return step
    if inp.paid and inp.amount is not None:
        if inp.amount.currency != sub.currency:
            return f"checkout paid in {inp.amount.currency}, subscription is in {sub.currency}"
        period = _first_period(sub, step, at, from_trial=False)
        if sub.billing_mode is PROVIDER_MANAGED:
            step.changes["next_charge_at"] = None
        if inp.charge_id:  # the provider reports this payment again (Stripe's PaymentIntent)
            step.changes["paid_charge_ids"] = (*sub.paid_charge_ids, inp.charge_id)
        if inp.tax is not None:  # added on top by the provider (tax-exclusive market)
            step.changes["tax"] = inp.tax
        emit_invoice_paid(
            step, charge_id=inp.charge_id, amount=inp.amount, period=period,
            reason="subscription_create", attempt=1, tax=inp.tax,
        )  # fmt: skip
    return step  # unpaid, no trial: stays pending until PaymentSucceeded


def _charge_identity_problem(sub: Subscription, charge_period: datetime | None) -> str | None:
    if charge_period is None or sub.state is PENDING:
        return None
    expected = sub.billing_anchor
    if charge_period < expected:
        return f"charge for period {charge_period.isoformat()} which is already paid; refund it"
    if charge_period > expected:
        return f"charge for future period {charge_period.isoformat()}"
    return None


def payment_succeeded(sub: Subscription, inp: PaymentSucceeded, policy: DunningPolicy) -> Result:
    if sub.billing_mode is PROVIDER_MANAGED:
        return PROVIDER_OWNS
    if inp.amount.currency != sub.currency:
        return f"payment in {inp.amount.currency}, subscription is in {sub.currency}"
    problem = _charge_identity_problem(sub, inp.charge_period)
    if problem:
        return problem
    at = inp.occurred_at
    step = Step()
    if sub.state is PENDING:
        period = _first_period(sub, step, at, from_trial=False)
        emit_invoice_paid(
            step, charge_id=inp.charge_id, amount=inp.amount, period=period,
            reason="subscription_create", attempt=max(sub.attempt, 1), tax=sub.tax_in(inp.amount),
        )  # fmt: skip
        return step
    if sub.state in (EXPIRED, PAUSED):
        return f"subscription is {sub.state}; charge {inp.charge_id} must be refunded"
    if not sub.charge_pending and sub.state in LIVE:
        return "no renewal charge outstanding for this period; refund it"
    assert sub.current_period_end is not None and sub.cycle_anchor is not None
    attempt = sub.attempt
    if sub.state is TRIALING:
        period = _first_period(sub, step, sub.current_period_end, from_trial=True)
        emit_invoice_paid(
            step, charge_id=inp.charge_id, amount=inp.amount, period=period,
            reason="subscription_cycle", attempt=attempt, tax=sub.tax_in(inp.amount),
        )  # fmt: skip
        return step
    if sub.state is ON_HOLD:
        start, anchor, cycles = at, at, 1  # access was suspended: a fresh period from now
    else:
        start, anchor, cycles = (
            sub.current_period_end,
            sub.cycle_anchor,
            sub.cycles_since_anchor + 1,
        )
    end = add_months(anchor, cycles * sub.interval_months)
    step.changes.update(
        state=ACTIVE,
        current_period_start=start,
        current_period_end=end,
        paid_through=end,
        cycle_anchor=anchor,
        cycles_since_anchor=cycles,
        next_charge_at=end,
        charge_pending=False,
        attempt=0,
        failed_attempts=0,
        retry_blocked=False,
        last_decline=None,
        grace_until=None,
        hold_until=None,
        renewal_count=sub.renewal_count + 1,
    )
    if sub.state in DUNNING:
        step.emit(EventType.RECOVERED, from_state=sub.state.value)
    period = period_fields(start, end)
    step.emit(EventType.RENEWED, **period)
    emit_invoice_paid(
        step, charge_id=inp.charge_id, amount=inp.amount, period=period,
        reason="subscription_cycle", attempt=attempt, tax=sub.tax_in(inp.amount),
    )  # fmt: skip
    return step


def payment_failed(sub: Subscription, inp: PaymentFailed, policy: DunningPolicy) -> Result:
    if sub.billing_mode is PROVIDER_MANAGED:
        return PROVIDER_OWNS
    if problem := _charge_identity_problem(sub, inp.charge_period):
        return problem
    step = Step()
    failed = sub.failed_attempts + 1
    decline = inp.decline
    step.changes.update(failed_attempts=failed, last_decline=decline.category.value)

    def failed_event(next_retry_at: str | None, retry_policy: str | None = None) -> None:
        step.emit(
            EventType.PAYMENT_FAILED,
            charge_id=inp.charge_id,
            amount=inp.amount.amount,
            currency=inp.amount.currency,
            attempt=sub.attempt,
            decline_category=decline.category.value,
            decline_code=decline.code,
            hard_decline=decline.hard,
            next_retry_at=next_retry_at,
            retry_policy=retry_policy,
            retry_variant=inp.retry_variant if retry_policy else None,
        )

    if sub.state is PENDING:
        failed_event(None)  # checkout payment failed: the customer is still in the flow
        return step
    if sub.state not in LIVE_OR_DUNNING:
        return f"no charge outstanding in state {sub.state}"
    if not sub.charge_pending:
        return "no renewal charge outstanding"
    assert sub.current_period_end is not None
    anchor = sub.current_period_end
    windows = (sub.grace_until, sub.hold_until) if sub.state in DUNNING else (None, None)
    decision = decide_retry(inp.retry_variant, policy, decline=decline, anchor=anchor,
        failed_at=inp.occurred_at, failed_attempts=failed, market=sub.market, windows=windows,
    )  # fmt: skip
    blocked = network_forbids(decline) is not None  # until the payment method is updated
    step.changes.update(charge_pending=False, next_charge_at=decision.at, retry_blocked=blocked)
    failed_event(retry_at := iso(decision.at), decision.policy)
    if sub.state in LIVE:
        grace_until = policy.grace_until(anchor)
        step.changes.update(
            state=PAST_DUE,
            grace_until=grace_until,
            hold_until=policy.hold_until(anchor),
            cancel_at_period_end=False,
        )
        step.emit(EventType.PAST_DUE, grace_until=iso(grace_until), next_retry_at=retry_at)
    return step


def renewal_due(sub: Subscription, inp: RenewalDue, policy: DunningPolicy) -> Result:
    if sub.billing_mode is PROVIDER_MANAGED:
        return PROVIDER_OWNS
    if sub.state not in LIVE_OR_DUNNING:
        return f"nothing to renew in state {sub.state}"
    due = sub.next_charge_at
    if due is None:
        return "no charge scheduled (hard decline or retries exhausted)"
    at = inp.occurred_at
    if at < due:
        return f"renewal not due until {due.isoformat()}"
    step = Step()
    if sub.upgrade is not None:  # an upgrade waits for its own charge
        if at < sub.upgrade.requested_at + policy.charge_lease:
            return f"an upgrade charge is in flight until {sub.upgrade.requested_at.isoformat()}"
        step.changes["upgrade"] = None  # never answered: the renewal goes on without it
    if sub.state in LIVE and sub.cancel_at_period_end:
        assert sub.current_period_end is not None
        return expire(sub, step, sub.current_period_end, ChurnType.VOLUNTARY)
    attempt = sub.attempt if sub.charge_pending else sub.attempt + 1
    price = sub.gross(sub.price)
    if not sub.charge_pending and sub.state in LIVE and sub.pending_plan is not None:
        pending = sub.pending_plan
        price = sub.gross(pending.price)
        step.changes.update(
            plan=pending.plan,
            plan_rank=pending.plan_rank,
            interval_months=pending.interval_months,
            price=pending.price,
            tax=sub.tax_for(pending.price),
            pending_plan=None,
            cycle_anchor=sub.current_period_end,
            cycles_since_anchor=0,
        )
        step.emit(
            EventType.PLAN_CHANGED,
            from_plan=sub.plan,
            to_plan=pending.plan,
            direction="downgrade",
            effective_at=iso(sub.current_period_end),
            scheduled=False,
            proration_amount=None,
            currency=sub.currency,
        )
    step.changes.update(
        attempt=attempt, charge_pending=True, next_charge_at=at + policy.charge_lease
    )
    step.charge = new_charge_request(
        subscription_id=sub.subscription_id,
        idempotency_key=sub.charge_idempotency_key(attempt),
        amount=price,
        billing_anchor=sub.billing_anchor,
        attempt=attempt,
        purpose="renewal",
        payment_method_ref=sub.payment_method_ref,
    )
    return step


def grace_period_over(sub: Subscription, inp: GracePeriodOver, policy: DunningPolicy) -> Result:
    if sub.billing_mode is PROVIDER_MANAGED:
        return PROVIDER_OWNS
    if sub.state is not PAST_DUE or sub.grace_until is None:
        return f"no grace period running in state {sub.state}"
    if inp.occurred_at < sub.grace_until:
        return f"grace period runs until {sub.grace_until.isoformat()}"
    step = Step({"state": ON_HOLD})
    step.emit(
        EventType.ON_HOLD, hold_until=iso(sub.hold_until), next_retry_at=iso(sub.next_charge_at)
    )
    return step


def hold_over(sub: Subscription, inp: HoldOver, policy: DunningPolicy) -> Result:
    if sub.billing_mode is PROVIDER_MANAGED:
        return PROVIDER_OWNS
    if sub.state is not ON_HOLD or sub.hold_until is None:
        return f"no account hold running in state {sub.state}"
    if inp.occurred_at < sub.hold_until:
        return f"account hold runs until {sub.hold_until.isoformat()}"
    return expire(sub, Step(), sub.hold_until, ChurnType.INVOLUNTARY)
