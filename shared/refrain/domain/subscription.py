"""The subscription aggregate: one immutable value per subscription.

It is what Firestore stores (``to_dict``/``from_dict`` are JSON-safe:
ISO-8601 strings and ints) and what :func:`refrain.domain.machine.apply`
maps to its successor. It holds everything later features read: the charge
idempotency key pieces (billing anchor + ``attempt``), dunning clocks, churn
counters, the ordering watermarks and a small window of applied input ids.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from refrain.domain.clock import basic_utc_stamp, ensure_utc
from refrain.domain.errors import InvalidInput
from refrain.domain.money import Money
from refrain.domain.pending import PendingPlan, PendingPriceChange, PendingUpgrade, parse_time
from refrain.domain.tax import tax_on_top, tax_within

__all__ = [
    "DUE_STATES",
    "FIELD_NAMES",
    "MAX_PAID_CHARGES",
    "MAX_RECENT_INPUTS",
    "BillingMode",
    "ChurnType",
    "PendingPlan",
    "PendingPriceChange",
    "PendingUpgrade",
    "State",
    "Subscription",
    "Watermark",
    "add_months",
    "evolve",
    "evolve_unchecked",
]

MAX_RECENT_INPUTS: Final = 32
MAX_PAID_CHARGES: Final = 24  # two years of monthly invoices


class State(StrEnum):
    PENDING = "pending"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    ON_HOLD = "on_hold"
    PAUSED = "paused"
    EXPIRED = "expired"


ACCESS_STATES: Final = frozenset({State.TRIALING, State.ACTIVE, State.PAST_DUE})
# Where a merchant-managed subscription has deadlines the renewal tick serves (the due query).
DUE_STATES: Final = (State.TRIALING, State.ACTIVE, State.PAST_DUE, State.ON_HOLD, State.PAUSED)


class BillingMode(StrEnum):
    MERCHANT_MANAGED = "merchant_managed"
    PROVIDER_MANAGED = "provider_managed"


class ChurnType(StrEnum):
    VOLUNTARY = "voluntary"
    INVOLUNTARY = "involuntary"
    REVOKED = "revoked"


Watermark = tuple[datetime, int]
"""(provider event time, provider sequence or -1): the ordering key of an input."""


_MONTH_DAYS: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def add_months(value: datetime, months: int) -> datetime:
    """Calendar months, clamping the day (Jan 31 + 1 month = Feb 28/29)."""
    index = value.month - 1 + months
    year, month = value.year + index // 12, index % 12 + 1
    last = _MONTH_DAYS[month - 1] + (month == 2 and calendar.isleap(year))
    return value.replace(year=year, month=month, day=min(value.day, last))


@dataclass(frozen=True, kw_only=True)
class Subscription:
    """Frozen, without ``__slots__`` on purpose: :func:`evolve` copies ``__dict__``."""

    subscription_id: str
    account_id: str
    provider: str
    billing_mode: BillingMode
    plan: str
    plan_rank: int
    interval_months: int
    market: str
    price: Money
    created_at: datetime
    state: State = State.PENDING
    # Tax-exclusive markets: the tax on top of ``price`` for a full period, as the provider
    # computed it at checkout (refrain.domain.tax.tax_on_top); None where prices include it.
    tax: Money | None = None
    cancel_at_period_end: bool = False
    cancel_reason: str | None = None
    started_at: datetime | None = None
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    paid_through: datetime | None = None
    trial_end: datetime | None = None
    cycle_anchor: datetime | None = None
    cycles_since_anchor: int = 0
    next_charge_at: datetime | None = None
    charge_pending: bool = False
    attempt: int = 0
    failed_attempts: int = 0
    retry_blocked: bool = False
    last_decline: str | None = None
    renewal_count: int = 0
    grace_until: datetime | None = None
    hold_until: datetime | None = None
    paused_at: datetime | None = None
    resume_at: datetime | None = None
    payment_method_ref: str | None = None
    pending_plan: PendingPlan | None = None
    upgrade: PendingUpgrade | None = None
    price_change: PendingPriceChange | None = None
    price_grandfathered: bool = False  # exempt from scheduled price changes
    ended_at: datetime | None = None
    churn_type: ChurnType | None = None
    revoked_by: str | None = None  # the disputed charge that ended access (a won dispute ends it)
    version: int = 0
    sequence: int = 0
    watermarks: Mapping[str, Watermark] = field(default_factory=dict)
    recent_input_ids: tuple[str, ...] = ()
    # Provider invoices whose payment produced invoice.paid (provider-managed mirrors):
    # a receipt is owed once per invoice, in whatever order the reports arrive; and the
    # charge a checkout paid, which the provider may report again as a payment.
    paid_charge_ids: tuple[str, ...] = ()

    @classmethod
    def new(
        cls,
        *,
        subscription_id: str,
        account_id: str,
        provider: str,
        billing_mode: BillingMode,
        plan: str,
        plan_rank: int,
        interval_months: int,
        market: str,
        price: Money,
        created_at: datetime,
        payment_method_ref: str | None = None,
    ) -> Subscription:
        if not subscription_id or not account_id:
            raise InvalidInput("subscription_id and account_id are required")
        if interval_months not in (1, 12):
            raise InvalidInput(f"interval_months must be 1 or 12, got {interval_months}")
        return cls(
            subscription_id=subscription_id,
            account_id=account_id,
            provider=provider,
            billing_mode=BillingMode(billing_mode),
            plan=plan,
            plan_rank=plan_rank,
            interval_months=interval_months,
            market=market,
            price=price,
            created_at=ensure_utc(created_at, "created_at"),
            payment_method_ref=payment_method_ref,
        )

    # derived ------------------------------------------------------------
    @property
    def currency(self) -> str:
        return self.price.currency

    def gross(self, net: Money) -> Money:
        """What is charged for a net amount: with the tax on top where prices exclude it."""
        return net + tax_on_top(net, self.price, self.tax)

    def tax_for(self, price: Money) -> Money | None:
        """The tax on another price (a new plan's) at this subscription's own ratio."""
        return None if self.tax is None else tax_on_top(price, self.price, self.tax)

    def tax_in(self, gross: Money) -> Money | None:
        """The tax part of an amount charged (None where prices include it)."""
        return None if self.tax is None else tax_within(gross, self.price, self.tax)

    @property
    def has_access(self) -> bool:
        return self.state in ACCESS_STATES

    @property
    def billing_anchor(self) -> datetime:
        """Start of the period the next charge pays for (identifies the charge)."""
        return self.current_period_end or self.created_at

    def charge_idempotency_key(self, attempt: int | None = None) -> str:
        """(subscription, period, attempt): the key the payment provider also receives."""
        n = self.attempt if attempt is None else attempt
        stamp = basic_utc_stamp(self.billing_anchor)
        return f"{self.subscription_id}:{stamp}:{n}"

    def pending_charge_key(self) -> str | None:
        """The charge claimed and not yet decided: an upgrade's, else the renewal's in flight."""
        if self.upgrade is not None:
            return self.upgrade.charge_id
        return self.charge_idempotency_key() if self.charge_pending else None

    def tenure(self, at: datetime) -> timedelta:
        return at - self.started_at if self.started_at else timedelta(0)

    # serialisation ------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            out[f.name] = _encode(getattr(self, f.name))
        out["currency"] = self.currency
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Subscription:
        try:
            kwargs: dict[str, Any] = {}
            for f in fields(cls):
                if f.name not in data:
                    continue
                kwargs[f.name] = _decode(f.name, data[f.name])
            return cls(**kwargs)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"not a stored subscription: {exc}") from exc


FIELD_NAMES: Final = frozenset(f.name for f in fields(Subscription))


def evolve(sub: Subscription, changes: Mapping[str, Any]) -> Subscription:
    """``dataclasses.replace`` without its per-call introspection.

    One dict merge instead of ~40 frozen-attribute writes; ``changes`` keys
    must be field names (checked, cheaply, as a set difference).
    """
    if not changes.keys() <= FIELD_NAMES:
        raise TypeError(f"not Subscription fields: {sorted(set(changes) - FIELD_NAMES)}")
    return evolve_unchecked(sub, changes)


def evolve_unchecked(sub: Subscription, changes: Mapping[str, Any]) -> Subscription:
    """:func:`evolve` for the state machine's hot path, whose handlers write literal names.

    A misspelt name would leave a stray attribute; :func:`check_invariants`
    reports it, and the property tests run that on every state they reach.
    """
    new: Subscription = _new(Subscription)
    _set_dict(new, {**sub.__dict__, **changes})
    return new


_new: Final = object.__new__
_set_dict: Final = Subscription.__dict__["__dict__"].__set__  # object.__setattr__, minus a hop


_DATETIME_FIELDS: Final = frozenset(
    f.name
    for f in fields(Subscription)
    if "datetime" in str(f.type) and f.name not in ("watermarks",)
)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Money):
        return value.to_dict()
    if isinstance(value, PendingPlan | PendingUpgrade | PendingPriceChange):
        return value.to_dict()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return {k: [t.isoformat(), seq] for k, (t, seq) in value.items()}
    return value


def _decode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _DATETIME_FIELDS:
        return parse_time(value)
    if name in ("price", "tax"):
        return Money.from_dict(value)
    if name == "pending_plan":
        return PendingPlan.from_dict(value)
    if name == "upgrade":
        return PendingUpgrade.from_dict(value)
    if name == "price_change":
        return PendingPriceChange.from_dict(value)
    if name == "watermarks":
        return {k: (parse_time(t), int(seq)) for k, (t, seq) in value.items()}
    if name in ("recent_input_ids", "paid_charge_ids"):
        return tuple(value)
    if name == "state":
        return State(value)
    if name == "billing_mode":
        return BillingMode(value)
    if name == "churn_type":
        return ChurnType(value)
    return value
