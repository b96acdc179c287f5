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

Ordering is handled before we get here (the ``provider_state`` watermark and
:func:`older_period_reason`), so an older report can never overwrite a newer
one. Watermarks only order reports with different keys: two reports stamped
the same instant without a provider sequence both pass, so an ``active``
report must also make sense against the period we already mirror. One that
would leave a period whose end is not after its start is refused, never
stored: ``stale`` when it describes a period that ended before the current
one began, ``illegal`` otherwise (say a first report whose period has already
lapsed).
"""

from __future__ import annotations

from datetime import datetime

from refrain.domain.dunning import DunningPolicy
from refrain.domain.events import EventType
from refrain.domain.inputs import ProviderStateReported, ProviderStatus
from refrain.domain.outcome import Step
from refrain.domain.subscription import MAX_PAID_CHARGES, ChurnType, Subscription, add_months
from refrain.domain.transitions import (
    ACTIVE,
    EXPIRED,
    LIVE,
    ON_HOLD,
    PAST_DUE,
    PAUSED,
    PENDING,
    PROVIDER_MANAGED,
    TRIALING,
    Result,
    expire,
    iso,
    period_fields,
)

_TROUBLE = (PAST_DUE, ON_HOLD)
_ENDS = (ProviderStatus.EXPIRED, ProviderStatus.REVOKED)


def older_period_reason(sub: Subscription, inp: ProviderStateReported) -> str | None:
    """Why an ``active`` report is stale by content, whatever its timestamp, or None.

    A report whose period ends no later than the start of the period we mirror
    describes an older period (a tie on the watermark, or a provider clock
    that disagrees with its own period dates); applying it would move the
    period end back before its start.
    """
    start, until = sub.current_period_start, inp.until
    if (
        start is None
        or until is None
        or until > start  # the usual case, so tested first
        or inp.status is not ProviderStatus.ACTIVE
        or sub.billing_mode is not PROVIDER_MANAGED
    ):
        return None
    return (
        f"reports a period ending {until.isoformat()}, "
        f"before the current period began ({start.isoformat()})"
    )


def late_payment(sub: Subscription, inp: ProviderStateReported) -> Step | None:
    """The payment in a report that is stale for the state: the receipt is still owed.

    A paid invoice can arrive after a newer report already moved the period on
    (``customer.subscription.updated`` overtaking ``invoice.paid``); the report must
    not touch the state, but the money moved. None when there is no payment to
    record (or it is recorded already).
    """
    if (
        sub.billing_mode is not PROVIDER_MANAGED
        or inp.status is not ProviderStatus.ACTIVE
        or inp.until is None
        or inp.in_trial
    ):
        return None
    start = inp.period_start or add_months(inp.until, -sub.interval_months)
    if inp.until <= start:
        return None
    step = Step()
    _record_payment(sub, inp, step, start, inp.until)
    return step if step.drafts else None


def _record_payment(
    sub: Subscription, inp: ProviderStateReported, step: Step, start: datetime, until: datetime
) -> None:
    """invoice.paid once per provider invoice (its id, else the report's), in any order."""
    if inp.paid_amount is None:
        return
    paid_id = inp.charge_id or inp.input_id
    if paid_id in sub.paid_charge_ids:
        return
    first = sub.started_at is None or start <= sub.started_at
    step.emit(
        EventType.INVOICE_PAID, charge_id=inp.charge_id, amount=inp.paid_amount.amount,
        currency=inp.paid_amount.currency, **period_fields(start, until),
        billing_reason="subscription_create" if first else "subscription_cycle", attempt=1,
    )  # fmt: skip
    kept = sub.paid_charge_ids[len(sub.paid_charge_ids) - MAX_PAID_CHARGES + 1 :]
    step.changes["paid_charge_ids"] = (*kept, paid_id)


def provider_state_reported(  # noqa: PLR0915 (one table, read top to bottom)
    sub: Subscription, inp: ProviderStateReported, policy: DunningPolicy
) -> Result:
    if sub.billing_mode is not PROVIDER_MANAGED:
        return "merchant-managed subscription: we own its lifecycle"
    status, at, until = inp.status, inp.occurred_at, inp.until
    step = Step()
    changes = step.changes

    if status in _ENDS:
        if sub.state is EXPIRED:
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

    if sub.state is EXPIRED:
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
        new_state = TRIALING if inp.in_trial else ACTIVE
        old_end = sub.current_period_end
        # a paid period beyond the one we mirror starts where that one ended:
        # a renewal, or a trial converting at its end (as merchant-managed does)
        moves_on = (
            sub.state is not PENDING
            and old_end is not None
            and until > old_end
            and not inp.in_trial
        )
        renewed = moves_on and sub.state is not TRIALING
        carried = old_end if moves_on else sub.current_period_start
        start = inp.period_start or carried or at
        if until <= start:
            return f"reported period ends {iso(until)}, not after its start {iso(start)}"
        changes.update(
            state=new_state, current_period_start=start, current_period_end=until,
            paid_through=None if inp.in_trial else until, grace_until=None, hold_until=None,
            paused_at=None, resume_at=None, cancel_at_period_end=inp.cancel_at_period_end,
            trial_end=until if inp.in_trial else sub.trial_end,
        )  # fmt: skip
        if sub.started_at is None:
            changes["started_at"] = start
        period = period_fields(start, until)
        until_iso = period["period_end"]
        if sub.state is PENDING:
            if inp.in_trial:
                step.emit(EventType.TRIAL_STARTED, trial_end=until_iso)
            else:
                step.emit(
                    EventType.ACTIVATED, **period, amount=sub.price.amount,
                    currency=sub.currency, from_trial=False,
                )  # fmt: skip
        elif sub.state is TRIALING and not inp.in_trial:
            step.emit(
                EventType.ACTIVATED, **period, amount=sub.price.amount, currency=sub.currency,
                from_trial=True,
            )  # fmt: skip
        elif sub.state in _TROUBLE:
            changes["failed_attempts"] = 0
            step.emit(EventType.RECOVERED, from_state=sub.state.value)
        elif sub.state is PAUSED:
            step.emit(EventType.RESUMED, period_end=until_iso)
        if renewed:
            changes["renewal_count"] = sub.renewal_count + 1
            step.emit(EventType.RENEWED, **period)
        _record_payment(sub, inp, step, start, until)
        if sub.state is PENDING and inp.cancel_at_period_end:
            # first seen already cancelling (its earlier reports are still on their way)
            changes["cancel_reason"] = inp.cancel_reason
            step.emit(EventType.CANCEL_REQUESTED, reason=inp.cancel_reason, effective_at=until_iso)
        if sub.state in LIVE:
            if inp.cancel_at_period_end and not sub.cancel_at_period_end:
                changes["cancel_reason"] = inp.cancel_reason
                step.emit(
                    EventType.CANCEL_REQUESTED, reason=inp.cancel_reason, effective_at=until_iso
                )
            elif sub.cancel_at_period_end and not inp.cancel_at_period_end:
                changes["cancel_reason"] = None
                step.emit(EventType.CANCEL_REVERTED)
        return step

    if sub.state is PENDING:
        return f"provider reports {status} for a subscription that never started"
    changes["cancel_at_period_end"] = False
    if status is not ProviderStatus.PAUSED:  # a later pause starts its own clock
        changes.update(paused_at=None, resume_at=None)
    if status is ProviderStatus.IN_GRACE:
        changes.update(state=PAST_DUE, grace_until=until, hold_until=None)
        if sub.state is not PAST_DUE:
            changes["failed_attempts"] = sub.failed_attempts + 1
            step.emit(EventType.PAST_DUE, grace_until=iso(until), next_retry_at=None)
    elif status is ProviderStatus.ON_HOLD:
        changes.update(state=ON_HOLD, hold_until=until, grace_until=sub.grace_until)
        if sub.state is not ON_HOLD:
            if sub.state is not PAST_DUE:
                changes["failed_attempts"] = sub.failed_attempts + 1
            step.emit(EventType.ON_HOLD, hold_until=iso(until), next_retry_at=None)
    elif status is ProviderStatus.PAUSED:
        changes.update(
            state=PAUSED, paused_at=sub.paused_at or at, resume_at=until,
            grace_until=None, hold_until=None,
        )  # fmt: skip
        if sub.state is not PAUSED:
            step.emit(EventType.PAUSED, resume_at=iso(until))
    return step
