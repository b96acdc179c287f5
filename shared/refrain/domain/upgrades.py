"""Upgrades that bill: the new plan applies when its proration charge succeeds.

An upgrade of an active, merchant-managed subscription with something to prorate is
requested (``actions.plan_change_requested``): the subscription records the
``PendingUpgrade`` and the charge to make, keyed ``{subscription}:upgrade:{version}``,
and the ledger claims that charge like a renewal's. The renewal worker charges it
through the gateway with that key and records the answer; a provider's own report of
the same payment is the same charge id. Here the answer lands:

* succeeded: the plan, price and (for an interval change) the new period apply now;
  ``subscription.plan_changed`` and an ``invoice.paid`` of the prorated amount (its own
  invoice number) are emitted;
* declined: the old plan stays, nothing else changes (no dunning: the subscription's own
  renewal is untouched), and ``subscription.plan_change_declined`` tells the customer.

A renewal that falls due while an upgrade waits longer than the charge lease drops the
upgrade (its charge is then refused as stale if it ever reports success: refund it).
"""

from __future__ import annotations

from refrain.domain.dunning import DunningPolicy
from refrain.domain.events import EventType
from refrain.domain.inputs import PaymentFailed, PaymentSucceeded
from refrain.domain.outcome import Step
from refrain.domain.subscription import PendingUpgrade, Subscription
from refrain.domain.transitions import (
    ACTIVE,
    Result,
    emit_invoice_paid,
    iso,
    new_paid_period,
    payment_failed,
    payment_succeeded,
    period_fields,
)

__all__ = ["charge_failed", "charge_succeeded"]


def _waiting(sub: Subscription, charge_id: str | None) -> PendingUpgrade | None:
    upgrade = sub.upgrade
    return upgrade if upgrade is not None and charge_id == upgrade.charge_id else None


def charge_succeeded(sub: Subscription, inp: PaymentSucceeded, policy: DunningPolicy) -> Result:
    upgrade = _waiting(sub, inp.charge_id)
    if upgrade is None:
        return payment_succeeded(sub, inp, policy)
    if inp.amount.currency != sub.currency:
        return f"payment in {inp.amount.currency}, subscription is in {sub.currency}"
    if sub.state is not ACTIVE:
        return f"subscription is {sub.state}; upgrade charge {inp.charge_id} must be refunded"
    assert sub.current_period_start is not None and sub.current_period_end is not None
    step = Step(
        {
            "plan": upgrade.plan,
            "plan_rank": upgrade.plan_rank,
            "interval_months": upgrade.interval_months,
            "price": upgrade.price,
            "tax": sub.tax_for(upgrade.price),
            "pending_plan": None,
            "upgrade": None,
        }
    )
    start, end = sub.current_period_start, sub.current_period_end
    if upgrade.period_start is not None and upgrade.period_end is not None:
        start, end = upgrade.period_start, upgrade.period_end
        step.changes.update(new_paid_period(start, end))
    step.emit(
        EventType.PLAN_CHANGED, from_plan=sub.plan, to_plan=upgrade.plan, direction="upgrade",
        effective_at=iso(inp.occurred_at), scheduled=False, proration_amount=inp.amount.amount,
        currency=sub.currency,
    )  # fmt: skip
    emit_invoice_paid(
        step, charge_id=inp.charge_id, amount=inp.amount, period=period_fields(start, end),
        reason="subscription_update", attempt=1, tax=sub.tax_in(inp.amount),
    )  # fmt: skip
    return step


def charge_failed(sub: Subscription, inp: PaymentFailed, policy: DunningPolicy) -> Result:
    upgrade = _waiting(sub, inp.charge_id)
    if upgrade is None:
        return payment_failed(sub, inp, policy)
    step = Step({"upgrade": None})
    step.emit(
        EventType.PLAN_CHANGE_DECLINED, from_plan=sub.plan, to_plan=upgrade.plan,
        charge_id=upgrade.charge_id, amount=upgrade.amount.amount, currency=sub.currency,
        decline_category=inp.decline.category.value, decline_code=inp.decline.code,
        hard_decline=inp.decline.hard,
    )  # fmt: skip
    return step
