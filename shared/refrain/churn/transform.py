"""Domain event -> churn signal row, or an explicit skip. Pure and fast (the hot path).

=================================  =======================================
domain event                       signal
=================================  =======================================
subscription.activated             activated (``from_trial``)
subscription.recovered             recovered (from past_due) |
                                   reactivated (from on_hold or expired:
                                   access was lost and comes back)
subscription.renewed               renewed
payment.failed                     payment_failed (first failure of the
                                   period) | dunning_retry (a retry failed)
subscription.past_due              entered_grace
subscription.on_hold               on_hold
subscription.cancel_requested      cancel_requested (reason; scheduled?)
subscription.cancel_reverted       cancel_reverted
subscription.plan_changed          plan_changed (upgrade | downgrade)
subscription.paused / resumed      paused / resumed
charge.refunded                    refunded (refund reason, access_revoked)
charge.disputed                    chargeback (dispute reason)
charge.dispute_closed              dispute_won | dispute_lost (amount)
subscription.expired               expired (churn_type, reason, tenure)
subscription.trial_started         skip: not a paid lifecycle change
invoice.paid                       skip: money, already told by activated/renewed
payment_method.updated             skip: not a lifecycle change
=================================  =======================================

The payload's ``account_id`` is read once, to compute the subscriber key, and
never copied; reason strings pass only as vocabulary values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from refrain.churn.pseudonym import Pseudonymizer
from refrain.churn.rows import SignalRow
from refrain.churn.taxonomy import (
    TAXONOMY_VERSION,
    CancelReason,
    DeclineCategory,
    DisputeReason,
    RefundReason,
    SignalType,
    normalize,
)
from refrain.domain.catalog import Catalog, load_catalog
from refrain.domain.errors import DomainError
from refrain.domain.events import DomainEvent, EventType

__all__ = ["SKIPPED_EVENT_TYPES", "SignalTransformer", "Skip"]

SKIPPED_EVENT_TYPES: Final[dict[EventType, str]] = {
    EventType.TRIAL_STARTED: "trial start is not a paid lifecycle change",
    EventType.INVOICE_PAID: "money event; activated/renewed carry the lifecycle change",
    EventType.PAYMENT_METHOD_UPDATED: "not a lifecycle change",
    EventType.PLAN_CHANGE_DECLINED: "the plan did not change (its upgrade charge was declined)",
    EventType.PRICE_CHANGE_SCHEDULED: "a notice; the end it may cause is expired (price_increase)",
    EventType.PRICE_CONSENT_RECORDED: "consent changes nothing until the renewal charges it",
}
_S = SignalType
_SIMPLE: Final[dict[EventType, SignalType]] = {
    EventType.ACTIVATED: _S.ACTIVATED,
    EventType.RENEWED: _S.RENEWED,
    EventType.PAST_DUE: _S.ENTERED_GRACE,
    EventType.ON_HOLD: _S.ON_HOLD,
    EventType.CANCEL_REQUESTED: _S.CANCEL_REQUESTED,
    EventType.CANCEL_REVERTED: _S.CANCEL_REVERTED,
    EventType.PLAN_CHANGED: _S.PLAN_CHANGED,
    EventType.PAUSED: _S.PAUSED,
    EventType.RESUMED: _S.RESUMED,
    EventType.CHARGE_REFUNDED: _S.REFUNDED,
    EventType.CHARGE_DISPUTED: _S.CHARGEBACK,
    EventType.EXPIRED: _S.EXPIRED,
}


@dataclass(frozen=True, slots=True)
class Skip:
    """An event the export deliberately does not turn into a signal (it is acked)."""

    event_type: str
    reason: str


class SignalTransformer:
    """Turns domain events into :class:`SignalRow`; holds the keys and a price cache."""

    def __init__(self, keys: Pseudonymizer, catalog: Catalog | None = None) -> None:
        self._keys = keys
        self._catalog = catalog or load_catalog()
        self._prices: dict[tuple[str, str], tuple[int, str] | None] = {}

    def transform(self, event: DomainEvent) -> SignalRow | Skip:
        skipped = SKIPPED_EVENT_TYPES.get(event.type)
        if skipped is not None:
            return Skip(event.type.value, skipped)
        p = event.payload
        signal = _signal_type(event.type, p)
        keys = self._keys
        subscription_key = keys.subscription_key(event.subscription_id)
        row: dict[str, Any] = {
            "signal_id": keys.signal_id(subscription_key, event.sequence),
            "signal_type": signal,
            "schema_version": TAXONOMY_VERSION,
            "occurred_at": event.occurred_at,
            "recorded_at": event.recorded_at,
            "subscriber_key": keys.subscriber_key(p["account_id"]),
            "subscription_key": subscription_key,
            "sequence": event.sequence,
            "source_event": event.type.value,
            "market": p["market"],
            "plan": p["plan"],
            "billing_mode": p["billing_mode"],
            "provider": p["provider"],
            "state": p["state"],
            "renewal_count": p["renewal_count"],
            "failed_attempts": p["failed_attempts"],
        }
        price = self._price(p["plan"], p["market"])
        if price is not None:
            row["price_minor"], row["currency"] = price
        _DETAILS[signal](row, p, event.occurred_at)
        return SignalRow(**row)

    def _price(self, plan: str, market: str) -> tuple[int, str] | None:
        key = (plan, market)
        if key not in self._prices:
            try:
                money = self._catalog.price(plan, market)
                self._prices[key] = (money.amount, money.currency)
            except DomainError:
                self._prices[key] = None  # a plan retired from the catalog: price unknown
        return self._prices[key]


def _signal_type(type_: EventType, p: dict[str, Any]) -> SignalType:
    if type_ is EventType.PAYMENT_FAILED:
        return _S.PAYMENT_FAILED if p["failed_attempts"] <= 1 else _S.DUNNING_RETRY
    if type_ is EventType.RECOVERED:
        return _S.REACTIVATED if p["from_state"] in ("on_hold", "expired") else _S.RECOVERED
    if type_ is EventType.CHARGE_DISPUTE_CLOSED:
        return _S.DISPUTE_WON if p["won"] else _S.DISPUTE_LOST
    return _SIMPLE[type_]


# per-signal details -------------------------------------------------------------


def _money(row: dict[str, Any], amount: int | None, currency: str) -> None:
    row["amount_minor"] = amount
    row["currency"] = currency


def _activated(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    _money(row, p["amount"], p["currency"])
    row.update(tenure_days=0, from_trial=p["from_trial"], period_end=p["period_end"])


def _recovered(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    row["from_state"] = p["from_state"]


def _period(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    row["period_end"] = p["period_end"]


def _payment_failed(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    _money(row, p["amount"], p["currency"])
    row.update(
        attempt=p["attempt"],
        decline_category=normalize(DeclineCategory, p["decline_category"], DeclineCategory.OTHER),
        hard_decline=p["hard_decline"],
        retry_policy=p.get("retry_policy"),
        retry_variant=p.get("retry_variant"),
    )


def _cancel_requested(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    effective = p.get("effective_at")
    if isinstance(effective, str):
        effective = datetime.fromisoformat(effective)
    row.update(
        reason=_cancel_reason(p.get("reason")),
        cancel_at_period_end=effective is not None and effective > at,
        period_end=effective if effective is not None and effective > at else None,
    )


def _plan_changed(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    _money(row, p["proration_amount"], p["currency"])
    row.update(plan_change_direction=p["direction"], from_plan=p["from_plan"])


def _refunded(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    _money(row, p["amount"], p["currency"])
    row.update(
        reason=normalize(RefundReason, p.get("reason"), RefundReason.OTHER),
        access_revoked=p["access_revoked"],
    )


def _chargeback(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    _money(row, p["amount"], p["currency"])
    row.update(
        reason=normalize(DisputeReason, p.get("reason_code"), DisputeReason.OTHER),
        access_revoked=p["access_revoked"],
    )


def _dispute_closed(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    _money(row, p["amount"], p["currency"])


def _expired(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    row.update(
        churn_type=p["churn_type"],
        tenure_days=p["tenure_days"],
        reason=_cancel_reason(p.get("cancel_reason")),
    )


def _nothing(row: dict[str, Any], p: dict[str, Any], at: datetime) -> None:
    return None


def _cancel_reason(value: object) -> str:
    return normalize(CancelReason, value, CancelReason.OTHER) or CancelReason.UNKNOWN


_DETAILS: Final = {
    _S.ACTIVATED: _activated,
    _S.REACTIVATED: _recovered,
    _S.RECOVERED: _recovered,
    _S.RENEWED: _period,
    _S.RESUMED: _period,
    _S.PAYMENT_FAILED: _payment_failed,
    _S.DUNNING_RETRY: _payment_failed,
    _S.ENTERED_GRACE: _nothing,
    _S.ON_HOLD: _nothing,
    _S.CANCEL_REQUESTED: _cancel_requested,
    _S.CANCEL_REVERTED: _nothing,
    _S.PLAN_CHANGED: _plan_changed,
    _S.PAUSED: _nothing,
    _S.REFUNDED: _refunded,
    _S.CHARGEBACK: _chargeback,
    _S.DISPUTE_WON: _dispute_closed,
    _S.DISPUTE_LOST: _dispute_closed,
    _S.EXPIRED: _expired,
}
