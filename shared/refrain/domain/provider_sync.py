"""Provider-managed subscriptions: mirror what Stripe Billing, Google Play or Apple say.

The provider renews and retries; we only translate its latest report into
our states and emit the same domain events as merchant-managed billing:

==============  =========================================================
report          our state
==============  =========================================================
active          ``active`` (``trialing`` if ``in_trial``), period ends ``until``
in_grace        ``past_due``, ``grace_until = until``
on_hold         ``on_hold``, ``hold_until = until``
paused          ``paused``, ``resume_at = until``
expired         ``expired`` (voluntary / involuntary / the provider's hint)
revoked         ``expired`` with churn type ``revoked``
==============  =========================================================

Ordering is handled before we get here (the ``provider_state`` watermark), so
an older report can never overwrite a newer one.
"""

from __future__ import annotations

from refrain.domain.dunning import DunningPolicy
from refrain.domain.events import EventType
from refrain.domain.inputs import ProviderStateReported, ProviderStatus
from refrain.domain.outcome import Step
from refrain.domain.subscription import BillingMode, ChurnType, State, Subscription
from refrain.domain.transitions import Result, expire, iso

_TROUBLE = (State.PAST_DUE, State.ON_HOLD)


def provider_state_reported(  # noqa: PLR0915 (one table, read top to bottom)
    sub: Subscription, inp: ProviderStateReported, policy: DunningPolicy
) -> Result:
    if sub.billing_mode is not BillingMode.PROVIDER_MANAGED:
        return "merchant-managed subscription: we own its lifecycle"
    status, at, until = inp.status, inp.occurred_at, inp.until
    step = Step()
    changes = step.changes

    if status in (ProviderStatus.EXPIRED, ProviderStatus.REVOKED):
        if sub.state is State.EXPIRED:
            return "already expired"
        if status is ProviderStatus.REVOKED:
            churn = ChurnType.REVOKED
        elif inp.churn_type is not None:
            churn = inp.churn_type
        elif sub.state in _TROUBLE:
            churn = ChurnType.INVOLUNTARY
        else:
            churn = ChurnType.VOLUNTARY
        if inp.cancel_reason:
            changes["cancel_reason"] = inp.cancel_reason
        return expire(sub, step, at if status is ProviderStatus.REVOKED else (until or at), churn)

    if sub.state is State.EXPIRED:
        return "expired subscription: a new purchase creates a new subscription"

    if inp.plan is not None and inp.plan != sub.plan:
        assert inp.plan_rank is not None and inp.price is not None
        if inp.price.currency != sub.currency:
            return f"reported price in {inp.price.currency}, subscription is in {sub.currency}"
        direction = "upgrade" if inp.plan_rank > sub.plan_rank else "downgrade"
        changes.update(plan=inp.plan, plan_rank=inp.plan_rank, price=inp.price)
        step.emit(
            EventType.PLAN_CHANGED, from_plan=sub.plan, to_plan=inp.plan, direction=direction,
            effective_at=iso(at), scheduled=False, proration_amount=None, currency=sub.currency,
        )  # fmt: skip

    if status is ProviderStatus.ACTIVE:
        assert until is not None
        new_state = State.TRIALING if inp.in_trial else State.ACTIVE
        old_end = sub.current_period_end
        renewed = (
            sub.state not in (State.PENDING, State.TRIALING)
            and old_end is not None
            and until > old_end
            and not inp.in_trial
        )
        start = inp.period_start or (old_end if renewed else None) or sub.current_period_start or at
        changes.update(
            state=new_state, current_period_start=start, current_period_end=until,
            paid_through=None if inp.in_trial else until, grace_until=None, hold_until=None,
            paused_at=None, resume_at=None, cancel_at_period_end=inp.cancel_at_period_end,
            trial_end=until if inp.in_trial else sub.trial_end,
        )  # fmt: skip
        if sub.started_at is None:
            changes["started_at"] = start
        if sub.state is State.PENDING:
            if inp.in_trial:
                step.emit(EventType.TRIAL_STARTED, trial_end=iso(until))
            else:
                step.emit(
                    EventType.ACTIVATED, period_start=iso(start), period_end=iso(until),
                    amount=sub.price.amount, currency=sub.currency, from_trial=False,
                )  # fmt: skip
        elif sub.state is State.TRIALING and not inp.in_trial:
            step.emit(
                EventType.ACTIVATED, period_start=iso(start), period_end=iso(until),
                amount=sub.price.amount, currency=sub.currency, from_trial=True,
            )  # fmt: skip
        elif sub.state in _TROUBLE:
            changes["failed_attempts"] = 0
            step.emit(EventType.RECOVERED, from_state=sub.state.value)
        elif sub.state is State.PAUSED:
            step.emit(EventType.RESUMED, period_end=iso(until))
        if renewed:
            changes["renewal_count"] = sub.renewal_count + 1
            step.emit(EventType.RENEWED, period_start=iso(start), period_end=iso(until))
        if inp.paid_amount is not None and (renewed or sub.state is not State.ACTIVE):
            step.emit(
                EventType.INVOICE_PAID, charge_id=inp.charge_id, amount=inp.paid_amount.amount,
                currency=inp.paid_amount.currency, period_start=iso(start), period_end=iso(until),
                billing_reason="subscription_cycle" if renewed else "subscription_create",
                attempt=1,
            )  # fmt: skip
        if sub.state in (State.ACTIVE, State.TRIALING):
            if inp.cancel_at_period_end and not sub.cancel_at_period_end:
                changes["cancel_reason"] = inp.cancel_reason
                step.emit(
                    EventType.CANCEL_REQUESTED, reason=inp.cancel_reason, effective_at=iso(until)
                )
            elif sub.cancel_at_period_end and not inp.cancel_at_period_end:
                changes["cancel_reason"] = None
                step.emit(EventType.CANCEL_REVERTED)
        return step

    if sub.state is State.PENDING:
        return f"provider reports {status} for a subscription that never started"
    changes["cancel_at_period_end"] = False
    if status is ProviderStatus.IN_GRACE:
        changes.update(state=State.PAST_DUE, grace_until=until, hold_until=None)
        if sub.state is not State.PAST_DUE:
            changes["failed_attempts"] = sub.failed_attempts + 1
            step.emit(EventType.PAST_DUE, grace_until=iso(until), next_retry_at=None)
    elif status is ProviderStatus.ON_HOLD:
        changes.update(state=State.ON_HOLD, hold_until=until, grace_until=sub.grace_until)
        if sub.state is not State.ON_HOLD:
            if sub.state is not State.PAST_DUE:
                changes["failed_attempts"] = sub.failed_attempts + 1
            step.emit(EventType.ON_HOLD, hold_until=iso(until), next_retry_at=None)
    elif status is ProviderStatus.PAUSED:
        changes.update(
            state=State.PAUSED, paused_at=sub.paused_at or at, resume_at=until,
            grace_until=None, hold_until=None,
        )  # fmt: skip
        if sub.state is not State.PAUSED:
            step.emit(EventType.PAUSED, resume_at=iso(until))
    return step
