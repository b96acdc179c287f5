"""What a plan change would do, without doing it: the exact amounts, tax and dates.

The preview runs the same state machine on the stored subscription, at the same
time, as the change itself would, and writes nothing. So the charge it shows is the
charge the change will claim (same proration, same rounding), the dates are the ones
the change will set, and an illegal change is shown with the reason it will be refused.
The tax is the amount's breakdown in the subscription's market, as its invoice will
show it (refrain.invoicing.builder).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from refrain.domain.catalog import Catalog
from refrain.domain.machine import apply
from refrain.domain.money import Money
from refrain.domain.subscription import Subscription
from refrain.invoicing.builder import breakdown_for_paid, provider_taxed


@dataclass(frozen=True, slots=True)
class PlanChangePreview:
    subscription_id: str
    from_plan: str
    to_plan: str
    allowed: bool
    reason: str | None  # why it would be refused
    direction: str | None  # "upgrade" | "downgrade"
    effective_at: datetime | None  # when the new plan applies (an upgrade: once paid)
    charge: Money | None  # charged now (an upgrade's proration)
    net: Money | None
    tax: Money | None
    tax_label: str
    period_start: datetime | None  # the period the new plan starts in
    period_end: datetime | None
    next_renewal_at: datetime | None
    next_renewal_amount: Money

    def to_dict(self) -> dict[str, Any]:
        def plain(value: object) -> object:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, Money):
                return value.to_dict()
            return value

        return {name: plain(getattr(self, name)) for name in self.__slots__}


def preview_plan_change(
    sub: Subscription, change: Any, now: datetime, catalog: Catalog
) -> PlanChangePreview:
    """``change``: the PlanChangeRequested the change itself would apply at ``now``."""
    outcome = apply(sub, change, now)
    market = catalog.market(sub.market)
    after = outcome.subscription
    base = {
        "subscription_id": sub.subscription_id, "from_plan": sub.plan, "to_plan": change.new_plan,
        "tax_label": market.tax_label,
    }  # fmt: skip
    if not outcome.applied:
        return PlanChangePreview(
            **base, allowed=False, reason=outcome.reason, direction=None, effective_at=None,
            charge=None, net=None, tax=None, period_start=None, period_end=None,
            next_renewal_at=sub.next_charge_at, next_renewal_amount=sub.gross(sub.price),
        )  # fmt: skip
    charge = outcome.charge.amount if outcome.charge is not None else None
    breakdown = None
    if charge is not None:
        tax = sub.tax_in(charge)  # added on top at checkout's ratio (address-based tax)
        breakdown = (
            provider_taxed(charge, tax)
            if tax is not None
            else breakdown_for_paid(charge, market.tax_rate_bp, market.tax_mode)
        )
    upgrade, pending = after.upgrade, after.pending_plan
    if pending is not None:  # a downgrade: at the period end, at the new price
        direction, effective = "downgrade", sub.current_period_end
        start, end, renewal_at, renewal = (
            sub.current_period_end,
            None,
            sub.next_charge_at,
            sub.gross(pending.price),
        )
    else:
        direction, effective = "upgrade", change.occurred_at
        start = (
            upgrade.period_start if upgrade and upgrade.period_start else after.current_period_start
        )
        end = upgrade.period_end if upgrade and upgrade.period_end else after.current_period_end
        renewal_at = end if upgrade and upgrade.period_end else after.next_charge_at
        renewal = sub.gross(change.new_price)
    return PlanChangePreview(
        **base, allowed=True, reason=None, direction=direction, effective_at=effective,
        charge=charge, net=breakdown.net if breakdown else None,
        tax=breakdown.tax if breakdown else None, period_start=start, period_end=end,
        next_renewal_at=renewal_at, next_renewal_amount=renewal,
    )  # fmt: skip
