"""Customer actions and charge adjustments: cancel, plan change, pause, card, refunds.

Same contract as :mod:`refrain.domain.transitions`: return a ``Step`` or the
reason the action is illegal in the current state.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from refrain.domain.dunning import DunningPolicy
from refrain.domain.events import EventType
from refrain.domain.inputs import (
    CancelRequested,
    CancelReverted,
    ChargebackOpened,
    PauseRequested,
    PaymentMethodUpdated,
    PlanChangeRequested,
    RefundIssued,
    ResumeRequested,
)
from refrain.domain.money import Money, div_round_half_up
from refrain.domain.outcome import Step, new_charge_request
from refrain.domain.plan_change import ChangeDirection, change_direction
from refrain.domain.subscription import (
    ChurnType,
    PendingPlan,
    PendingUpgrade,
    Subscription,
    add_months,
)
from refrain.domain.transitions import (
    ACTIVE,
    DUNNING,
    EXPIRED,
    LIVE,
    MERCHANT_MANAGED,
    PAUSED,
    PENDING,
    PROVIDER_MANAGED,
    PROVIDER_OWNS,
    Result,
    expire,
    iso,
    new_paid_period,
)


def cancel_requested(sub: Subscription, inp: CancelRequested, policy: DunningPolicy) -> Result:
    if sub.billing_mode is PROVIDER_MANAGED:
        return PROVIDER_OWNS
    step = Step({"cancel_reason": inp.reason})
    if sub.state in LIVE:
        if sub.cancel_at_period_end:
            return "cancellation already scheduled"
        step.changes["cancel_at_period_end"] = True
        step.emit(
            EventType.CANCEL_REQUESTED, reason=inp.reason, effective_at=iso(sub.current_period_end)
        )
        return step
    if sub.state in (*DUNNING, PAUSED):
        step.emit(EventType.CANCEL_REQUESTED, reason=inp.reason, effective_at=iso(inp.occurred_at))
        return expire(sub, step, inp.occurred_at, ChurnType.VOLUNTARY)
    return f"nothing to cancel in state {sub.state}"


def cancel_reverted(sub: Subscription, inp: CancelReverted, policy: DunningPolicy) -> Result:
    if sub.billing_mode is PROVIDER_MANAGED:
        return PROVIDER_OWNS
    if sub.state not in LIVE or not sub.cancel_at_period_end:
        return "no scheduled cancellation to revert"
    step = Step({"cancel_at_period_end": False, "cancel_reason": None})
    step.emit(EventType.CANCEL_REVERTED)
    return step


def plan_change_requested(
    sub: Subscription, inp: PlanChangeRequested, policy: DunningPolicy
) -> Result:
    if sub.billing_mode is PROVIDER_MANAGED:
        return PROVIDER_OWNS
    if sub.state not in LIVE:
        return f"plan changes need an active or trialing subscription, not {sub.state}"
    if inp.new_plan == sub.plan or inp.new_plan_rank == sub.plan_rank:
        return f"already on plan {sub.plan}"
    if inp.new_price.currency != sub.currency:
        return f"new price in {inp.new_price.currency}, subscription is in {sub.currency}"
    if sub.cancel_at_period_end:
        return "revert the scheduled cancellation before changing plan"
    if sub.charge_pending:
        return "a renewal charge is in flight; retry after it settles"
    if sub.upgrade is not None:
        return f"an upgrade to {sub.upgrade.plan} is waiting for its charge; retry after it settles"
    at = inp.occurred_at
    step = Step()
    payload: dict[str, Any] = {
        "from_plan": sub.plan, "to_plan": inp.new_plan, "currency": sub.currency,
    }  # fmt: skip
    direction = change_direction(sub.plan_rank, inp.new_plan_rank)
    if direction is ChangeDirection.DOWNGRADE:
        step.changes["pending_plan"] = PendingPlan(
            inp.new_plan, inp.new_plan_rank, inp.new_interval_months, inp.new_price
        )
        step.emit(
            EventType.PLAN_CHANGED, direction=direction.value,
            effective_at=iso(sub.current_period_end), scheduled=True, proration_amount=None,
            **payload,
        )  # fmt: skip
        return step
    changes: dict[str, Any] = {
        "plan": inp.new_plan,
        "plan_rank": inp.new_plan_rank,
        "interval_months": inp.new_interval_months,
        "price": inp.new_price,
        "pending_plan": None,
    }
    proration = 0
    new_period: tuple[Any, Any] | None = None
    if sub.state is ACTIVE:
        assert sub.current_period_start is not None and sub.current_period_end is not None
        start, end = sub.current_period_start, sub.current_period_end
        total = int((end - start).total_seconds())
        left = max(0, min(total, int((end - at).total_seconds())))
        if inp.new_interval_months == sub.interval_months:
            proration = div_round_half_up((inp.new_price.amount - sub.price.amount) * left, total)
        else:  # new interval: a new period starts now, unused time is credited
            credit = div_round_half_up(sub.price.amount * left, total)
            proration = inp.new_price.amount - credit
            new_period = (at, add_months(at, inp.new_interval_months))
        if proration > 0:  # billed first: the plan changes when this charge succeeds
            proration = sub.gross(Money(proration, sub.currency)).amount  # tax on top, if any
            key = f"{sub.subscription_id}:upgrade:{sub.version + 1}"
            step.changes["upgrade"] = PendingUpgrade(
                plan=inp.new_plan, plan_rank=inp.new_plan_rank,
                interval_months=inp.new_interval_months, price=inp.new_price, charge_id=key,
                amount=Money(proration, sub.currency), requested_at=at,
                period_start=new_period[0] if new_period else None,
                period_end=new_period[1] if new_period else None,
            )  # fmt: skip
            step.charge = new_charge_request(
                subscription_id=sub.subscription_id,
                idempotency_key=key,
                amount=Money(proration, sub.currency),
                billing_anchor=start,
                attempt=0,
                purpose="proration",
                payment_method_ref=sub.payment_method_ref,
            )
            return step
        if new_period is not None:
            changes.update(new_paid_period(*new_period))
    step.changes.update(changes)
    step.emit(
        EventType.PLAN_CHANGED, direction=direction.value, effective_at=iso(at), scheduled=False,
        proration_amount=proration, **payload,
    )  # fmt: skip
    return step


def pause_requested(sub: Subscription, inp: PauseRequested, policy: DunningPolicy) -> Result:
    if sub.billing_mode is PROVIDER_MANAGED:
        return PROVIDER_OWNS
    if sub.state is not ACTIVE:
        return f"only an active subscription can pause, not {sub.state}"
    if sub.cancel_at_period_end or sub.charge_pending or sub.upgrade is not None:
        return "cannot pause with a scheduled cancellation or a charge in flight"
    # a scheduled downgrade is kept (it cannot be withdrawn): renewal applies it after resume
    step = Step(
        {"state": PAUSED, "paused_at": inp.occurred_at, "resume_at": inp.resume_at,
         "next_charge_at": None}
    )  # fmt: skip
    step.emit(EventType.PAUSED, resume_at=iso(inp.resume_at))
    return step


def resume_requested(sub: Subscription, inp: ResumeRequested, policy: DunningPolicy) -> Result:
    if sub.billing_mode is PROVIDER_MANAGED:
        return PROVIDER_OWNS
    if sub.state is not PAUSED or sub.paused_at is None:
        return f"not paused (state {sub.state})"
    assert sub.current_period_start is not None and sub.current_period_end is not None
    shift = max(inp.occurred_at - sub.paused_at, timedelta(0))  # unused paid time is carried over
    end = sub.current_period_end + shift
    step = Step(
        {"state": ACTIVE, "paused_at": None, "resume_at": None,
         "current_period_start": sub.current_period_start + shift, "current_period_end": end,
         "paid_through": end, "cycle_anchor": end, "cycles_since_anchor": 0,
         "next_charge_at": end}
    )  # fmt: skip
    step.emit(EventType.RESUMED, period_end=iso(end))
    return step


def payment_method_updated(
    sub: Subscription, inp: PaymentMethodUpdated, policy: DunningPolicy
) -> Result:
    if sub.state is EXPIRED:
        if sub.ended_at is None or inp.occurred_at > sub.ended_at:
            return "subscription has expired"
        # A card saved before the end, reported after it (a parked or retried event that a
        # chargeback overtook): recorded as in provider order, retrying nothing.
        step = Step({"payment_method_ref": inp.payment_method_ref, "retry_blocked": False})
        step.emit(
            EventType.PAYMENT_METHOD_UPDATED, payment_method_ref=inp.payment_method_ref,
            retry_at=None,
        )  # fmt: skip
        return step
    step = Step({"payment_method_ref": inp.payment_method_ref, "retry_blocked": False})
    retry_at = None
    merchant = sub.billing_mode is MERCHANT_MANAGED
    if merchant and sub.state in DUNNING and not sub.charge_pending:
        retry_at = inp.occurred_at  # a new card is the best moment to retry
        step.changes["next_charge_at"] = retry_at
    step.emit(
        EventType.PAYMENT_METHOD_UPDATED,
        payment_method_ref=inp.payment_method_ref,
        retry_at=iso(retry_at),
    )
    return step


def refund_issued(sub: Subscription, inp: RefundIssued, policy: DunningPolicy) -> Result:
    if inp.amount.currency != sub.currency:
        return f"refund in {inp.amount.currency}, subscription is in {sub.currency}"
    revoke = inp.revoke_access and sub.state is not EXPIRED
    step = Step()
    step.emit(
        EventType.CHARGE_REFUNDED, charge_id=inp.charge_id, amount=inp.amount.amount,
        currency=inp.amount.currency, reason=inp.reason, access_revoked=revoke,
    )  # fmt: skip
    return expire(sub, step, inp.occurred_at, ChurnType.REVOKED) if revoke else step


def chargeback_opened(sub: Subscription, inp: ChargebackOpened, policy: DunningPolicy) -> Result:
    if inp.amount.currency != sub.currency:
        return f"chargeback in {inp.amount.currency}, subscription is in {sub.currency}"
    revoke = policy.revoke_on_chargeback and sub.state not in (EXPIRED, PENDING)
    step = Step()
    step.emit(
        EventType.CHARGE_DISPUTED, charge_id=inp.charge_id, amount=inp.amount.amount,
        currency=inp.amount.currency, reason_code=inp.reason_code, access_revoked=revoke,
        evidence_due_at=iso(inp.evidence_due_at),
    )  # fmt: skip
    if not revoke:
        return step
    step.changes["revoked_by"] = inp.charge_id  # a won dispute gives access back
    return expire(sub, step, inp.occurred_at, ChurnType.REVOKED)
