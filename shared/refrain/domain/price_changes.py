"""Price changes for existing subscribers: notice, consent, and the renewal that charges.

A scheduled price version (refrain.pricing) reaches each subscriber of its plan and
market as a ``PriceChangeNoticed`` input, applied when the notice goes out. The rule
for *which renewal first charges the new price* is :func:`first_renewal_at_new_price`:
the earliest of the subscriber's own renewal dates that is both on or after the
version's effective date and at least ``notice_days`` after the notice. A subscriber
whose next renewal is closer than that keeps the old price for it and moves at the
following one. The answer is stored on the subscription (``price_change.applies_from``),
so the renewal worker reads no catalog: the renewal whose billing anchor reaches it
charges ``price_change.price`` (and makes it the subscription's price).

Consent (a market flagged ``price_consent_required``): that renewal charges the new
price only if the subscriber agreed (``PriceConsentGiven``) before it; otherwise the
subscription ends at the end of the period it paid for, a voluntary churn with the
reason ``price_increase`` (the churn vocabulary's "declined a price increase").

A grandfathered subscription (``price_grandfathered``) is exempt: its notices are
refused (recorded with the reason) and it keeps its price. App Store and Google Play
report their own price increases; they map to the same input with the store's dates
and consent (the store, not Refrain, charges and mails those customers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from refrain.domain import transitions as t
from refrain.domain.dunning import DunningPolicy
from refrain.domain.events import EventType
from refrain.domain.inputs import (
    GrandfatherSet,
    PriceChangeNoticed,
    PriceConsentGiven,
    ProviderStateReported,
    ProviderStatus,
    RenewalDue,
)
from refrain.domain.outcome import Step
from refrain.domain.provider_sync import provider_state_reported
from refrain.domain.subscription import (
    ChurnType,
    PendingPriceChange,
    State,
    Subscription,
    add_months,
)

__all__ = [
    "DECLINED_REASON",
    "first_renewal_at_new_price",
    "grandfather_set",
    "price_change_noticed",
    "price_consent_given",
    "provider_report",
    "renewal_dates",
    "renewal_due",
]

DECLINED_REASON: Final = "price_increase"  # refrain.churn.taxonomy.CancelReason.PRICE_INCREASE
_REPRICEABLE: Final = (*t.LIVE_OR_DUNNING, State.PAUSED)
_MAX_RENEWALS: Final = 1200  # a century of monthly renewals: the search always ends


def renewal_dates(anchor: datetime, cycles: int, interval_months: int) -> Iterator[datetime]:
    """The subscriber's coming billing anchors: the current period's end, then each later one.

    The same arithmetic as a renewal (``add_months(anchor, cycles * interval)``), so the
    dates here are exactly the ones the renewals will have.
    """
    for k in range(_MAX_RENEWALS):
        yield add_months(anchor, (cycles + k) * interval_months)


def first_renewal_at_new_price(
    anchor: datetime,
    cycles: int,
    interval_months: int,
    *,
    effective_at: datetime,
    noticed_at: datetime,
    notice_days: int,
) -> datetime:
    """The first renewal that may charge the new price: effective, and with full notice."""
    earliest = max(effective_at, noticed_at + timedelta(days=notice_days))
    for renewal in renewal_dates(anchor, cycles, interval_months):
        if renewal >= earliest:
            return renewal
    raise ValueError(f"no renewal on or after {earliest.isoformat()}")  # pragma: no cover


def price_change_noticed(
    sub: Subscription, inp: PriceChangeNoticed, policy: DunningPolicy
) -> t.Result:
    if sub.state not in _REPRICEABLE:
        return f"no renewal to reprice in state {sub.state}"
    if inp.plan != sub.plan:
        return f"price change for plan {inp.plan}; the subscription is on {sub.plan}"
    if inp.new_price.currency != sub.currency:
        return f"new price in {inp.new_price.currency}, subscription is in {sub.currency}"
    if sub.price_grandfathered:
        return "grandfathered: exempt from price changes"
    current = sub.price_change
    if current is not None and current.change_id == inp.change_id:
        if inp.consented and current.consented_at is None:  # a store's later "accepted"
            return _consent(current, inp.occurred_at)
        return f"already told of price change {inp.change_id}"
    if inp.new_price == sub.price:
        return f"already at {sub.price}"
    at = inp.occurred_at
    if sub.billing_mode is t.MERCHANT_MANAGED:
        assert sub.cycle_anchor is not None  # set in every repriceable merchant state
        applies = first_renewal_at_new_price(
            sub.cycle_anchor, sub.cycles_since_anchor, sub.interval_months,
            effective_at=inp.effective_at, noticed_at=at, notice_days=inp.notice_days,
        )  # fmt: skip
    else:  # the store decides when its customer first pays the new price
        applies = inp.applies_from or inp.effective_at
    change = PendingPriceChange(
        change_id=inp.change_id, price=inp.new_price, effective_at=inp.effective_at,
        applies_from=applies, noticed_at=at, consent_required=inp.consent_required,
        consented_at=at if inp.consented else None,
    )  # fmt: skip
    step = Step({"price_change": change})
    step.emit(
        EventType.PRICE_CHANGE_SCHEDULED, change_id=inp.change_id,
        old_amount=sub.price.amount, amount=inp.new_price.amount, currency=sub.currency,
        effective_at=t.iso(inp.effective_at), applies_from=t.iso(applies),
        notice_days=inp.notice_days, consent_required=inp.consent_required,
        consented=inp.consented,
    )  # fmt: skip
    return step


def price_consent_given(
    sub: Subscription, inp: PriceConsentGiven, policy: DunningPolicy
) -> t.Result:
    if sub.billing_mode is t.PROVIDER_MANAGED:
        return t.PROVIDER_OWNS
    change = sub.price_change
    if change is None:
        return "no pending price change to consent to"
    if inp.change_id is not None and inp.change_id != change.change_id:
        return f"the pending price change is {change.change_id}, not {inp.change_id}"
    if not change.consent_required:
        return f"price change {change.change_id} needs no consent"
    if change.consented_at is not None:
        return f"consent to {change.change_id} already recorded"
    return _consent(change, inp.occurred_at)


def _consent(change: PendingPriceChange, at: datetime) -> Step:
    step = Step({"price_change": replace(change, consented_at=at)})
    step.emit(
        EventType.PRICE_CONSENT_RECORDED, change_id=change.change_id,
        amount=change.price.amount, currency=change.price.currency,
        applies_from=t.iso(change.applies_from),
    )  # fmt: skip
    return step


def grandfather_set(sub: Subscription, inp: GrandfatherSet, policy: DunningPolicy) -> t.Result:
    if sub.billing_mode is t.PROVIDER_MANAGED:
        return t.PROVIDER_OWNS
    if sub.state is t.EXPIRED:
        return "subscription has ended"
    if sub.price_grandfathered is inp.exempt:
        return "already grandfathered" if inp.exempt else "not grandfathered"
    changes: dict[str, object] = {"price_grandfathered": inp.exempt}
    if inp.exempt:
        changes["price_change"] = None  # a change already told keeps the old price after all
    return Step(changes)


def renewal_due(sub: Subscription, inp: RenewalDue, policy: DunningPolicy) -> t.Result:
    """A renewal, at the new price from the renewal its notice allows (see the module)."""
    result = t.renewal_due(sub, inp, policy)
    change = sub.price_change
    if change is None or isinstance(result, str):
        return result
    if "pending_plan" in result.changes:  # a downgrade moves to another plan and its price
        result.changes["price_change"] = None
        return result
    first_attempt = result.charge is not None and not sub.charge_pending and sub.state in t.LIVE
    if not first_attempt or sub.billing_anchor < change.applies_from:
        return result
    if change.consent_required and change.consented_at is None:
        assert sub.current_period_end is not None
        ended = Step({"cancel_reason": DECLINED_REASON, "price_change": None})
        return t.expire(sub, ended, sub.current_period_end, ChurnType.VOLUNTARY)
    assert result.charge is not None
    tax = sub.tax_for(change.price)  # tax-exclusive markets: on top, at the sub's own ratio
    result.changes.update(price=change.price, tax=tax, price_change=None)
    result.charge = replace(result.charge, amount=sub.gross(change.price))
    return result


def provider_report(
    sub: Subscription, inp: ProviderStateReported, policy: DunningPolicy
) -> t.Result:
    """A store's report; one whose period runs past ``applies_from`` was paid at the new price."""
    result = provider_state_reported(sub, inp, policy)
    change = sub.price_change
    if change is None or isinstance(result, str):
        return result
    if result.changes.get("state") is t.EXPIRED:
        result.changes["price_change"] = None
    elif inp.status is ProviderStatus.ACTIVE and inp.until and inp.until > change.applies_from:
        result.changes.update(price=change.price, tax=sub.tax_for(change.price), price_change=None)
    return result
