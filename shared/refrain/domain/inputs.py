"""Inputs to the state machine: provider notifications, timers, customer actions.

Every input has an ``input_id`` (the provider's event id, or a deterministic
id for our own timers), the provider's event time ``occurred_at`` and an
optional ``provider_sequence``. Its ``stream`` decides how ordering is
judged (see :mod:`refrain.domain.machine` for the stale-input rule):

* ``payment``        charge outcomes (success / failure of a charge attempt)
* ``provider_state`` provider-managed lifecycle reports (Stripe Billing, Play, Apple)
* ``customer``       actions through our API (cancel, plan change, pause, card update)
* ``checkout``       checkout completion
* ``timer``          our scheduler (renewal due, grace over, hold over); validated
                     against the aggregate's own deadlines, never stale
* ``charge``         refunds and chargebacks: facts about a past charge; never
                     stale, deduplicated by input id only
* ``price``          a new price told to the subscriber (scheduled or a store's
                     report); never stale, deduplicated by input id only

Adapters translate provider payloads into these; nothing here parses JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from refrain.domain.clock import ensure_utc
from refrain.domain.declines import Decline
from refrain.domain.errors import InvalidInput
from refrain.domain.money import Money
from refrain.domain.subscription import ChurnType

__all__ = [
    "CancelRequested",
    "CancelReverted",
    "ChargebackOpened",
    "CheckoutCompleted",
    "DisputeClosed",
    "GracePeriodOver",
    "GrandfatherSet",
    "HoldOver",
    "Input",
    "PauseRequested",
    "PaymentFailed",
    "PaymentMethodUpdated",
    "PaymentSucceeded",
    "PlanChangeRequested",
    "PriceChangeNoticed",
    "PriceConsentGiven",
    "ProviderStateReported",
    "ProviderStatus",
    "RefundIssued",
    "RenewalDue",
    "ResumeRequested",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Input:
    stream: ClassVar[str] = "customer"

    input_id: str
    occurred_at: datetime
    provider_sequence: int | None = None

    def __post_init__(self) -> None:
        if not self.input_id:
            raise InvalidInput(f"{type(self).__name__}: input_id is required")
        at = self.occurred_at
        if at.tzinfo is None or at.utcoffset() is None:
            ensure_utc(at, f"{type(self).__name__}.occurred_at")
        elif at.utcoffset():
            object.__setattr__(self, "occurred_at", ensure_utc(at))

    @property
    def order_key(self) -> tuple[datetime, int]:
        seq = self.provider_sequence
        return (self.occurred_at, -1 if seq is None else seq)


def _aware(obj: Input, name: str) -> None:
    value = getattr(obj, name)
    if value is not None:
        object.__setattr__(obj, name, ensure_utc(value, f"{type(obj).__name__}.{name}"))


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutCompleted(Input):
    """Checkout finished. ``paid`` means the first charge was captured at checkout."""

    stream: ClassVar[str] = "checkout"
    payment_method_ref: str | None = None
    trial_days: int = 0
    paid: bool = False
    charge_id: str | None = None
    amount: Money | None = None
    tax: Money | None = None  # inside ``amount``, added on top (tax-exclusive markets)

    def __post_init__(self) -> None:
        Input.__post_init__(self)
        if self.tax is not None and (
            self.amount is None or not 0 <= self.tax.amount <= self.amount.amount
        ):
            raise InvalidInput("a checkout's tax is part of its amount")
        if self.trial_days < 0:
            raise InvalidInput("trial_days must not be negative")
        if self.paid and self.amount is None:
            raise InvalidInput("a paid checkout needs the amount captured")


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentSucceeded(Input):
    """A charge was captured. ``charge_period`` is the billing anchor it paid for."""

    stream: ClassVar[str] = "payment"
    charge_id: str
    amount: Money
    charge_period: datetime | None = None
    attempt: int | None = None

    def __post_init__(self) -> None:
        Input.__post_init__(self)
        _aware(self, "charge_period")


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentFailed(Input):
    stream: ClassVar[str] = "payment"
    charge_id: str | None
    amount: Money
    decline: Decline
    charge_period: datetime | None = None
    attempt: int | None = None
    # The dunning experiment's variant for this subscription, when the charge worker
    # assigned one (refrain.renewals.assignment); None runs the fixed schedule.
    retry_variant: str | None = None

    def __post_init__(self) -> None:
        Input.__post_init__(self)
        _aware(self, "charge_period")


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalDue(Input):
    """Scheduler tick: ``next_charge_at`` has come (renewal, retry, or re-drive)."""

    stream: ClassVar[str] = "timer"


@dataclass(frozen=True, slots=True, kw_only=True)
class GracePeriodOver(Input):
    stream: ClassVar[str] = "timer"


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldOver(Input):
    stream: ClassVar[str] = "timer"


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequested(Input):
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelReverted(Input):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanChangeRequested(Input):
    """Resolved from the catalog by the caller (rank decides upgrade vs downgrade)."""

    new_plan: str
    new_plan_rank: int
    new_interval_months: int
    new_price: Money

    def __post_init__(self) -> None:
        Input.__post_init__(self)
        if self.new_interval_months not in (1, 12):
            raise InvalidInput("new_interval_months must be 1 or 12")


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseRequested(Input):
    resume_at: datetime | None = None

    def __post_init__(self) -> None:
        Input.__post_init__(self)
        _aware(self, "resume_at")
        if self.resume_at is not None and self.resume_at <= self.occurred_at:
            raise InvalidInput("resume_at must be after the pause")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeRequested(Input):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentMethodUpdated(Input):
    payment_method_ref: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundIssued(Input):
    """Money given back on a past payment.

    ``amount`` is this refund. Where the provider says more, it is kept:
    ``refund_id`` names this refund (Adyen's modification pspReference, a Stripe
    ``re_`` id), ``refunded_total`` is the payment's signed cumulative refunded
    amount (Stripe's ``amount_refunded``), ``payment_ref`` the provider's payment
    (PaymentIntent, Adyen pspReference) the refund tally is kept under, and
    ``request_id`` the operator request it answers. See refrain.domain.refunds.
    """

    stream: ClassVar[str] = "charge"
    charge_id: str
    amount: Money
    reason: str | None = None
    revoke_access: bool = False
    refund_id: str | None = None
    refunded_total: Money | None = None
    payment_ref: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargebackOpened(Input):
    stream: ClassVar[str] = "charge"
    charge_id: str
    amount: Money
    reason_code: str | None = None
    evidence_due_at: datetime | None = None  # when the provider needs the merchant's evidence
    dispute_id: str | None = None  # the provider's dispute (Stripe du_/dp_, Adyen dispute psp)
    payment_ref: str | None = None  # the provider's payment (its refunds and disputes tally)


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeClosed(Input):
    """The card network decided a dispute: ``won`` (the money comes back) or lost."""

    stream: ClassVar[str] = "charge"
    charge_id: str
    amount: Money
    won: bool
    dispute_id: str | None = None
    payment_ref: str | None = None


class ProviderStatus(StrEnum):
    """What a provider-managed subscription's provider says it is now."""

    ACTIVE = "active"  # paid (or in trial) until ``until``; see cancel_at_period_end
    IN_GRACE = "in_grace"  # renewal failed, access kept until ``until``
    ON_HOLD = "on_hold"  # access suspended, provider retrying until ``until``
    PAUSED = "paused"  # paused; ``until`` is the auto-resume time if known
    EXPIRED = "expired"  # ended (cancelled at period end, or billing gave up)
    REVOKED = "revoked"  # refunded / revoked by the provider: access ends now


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderStateReported(Input):
    stream: ClassVar[str] = "provider_state"
    status: ProviderStatus
    until: datetime | None = None
    cancel_at_period_end: bool = False
    in_trial: bool = False
    period_start: datetime | None = None
    plan: str | None = None
    plan_rank: int | None = None
    price: Money | None = None
    paid_amount: Money | None = None
    charge_id: str | None = None
    churn_type: ChurnType | None = None
    cancel_reason: str | None = None

    def __post_init__(self) -> None:
        Input.__post_init__(self)
        _aware(self, "until")
        _aware(self, "period_start")
        needs_until = (ProviderStatus.ACTIVE, ProviderStatus.IN_GRACE, ProviderStatus.ON_HOLD)
        if self.status in needs_until and self.until is None:
            raise InvalidInput(f"provider status {self.status} needs 'until'")
        start, until = self.period_start, self.until
        if self.status is ProviderStatus.ACTIVE and start and until and until <= start:
            raise InvalidInput("an active report's period must end ('until') after period_start")
        if self.plan is not None and (self.plan_rank is None or self.price is None):
            raise InvalidInput("a reported plan needs its rank and price")


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceChangeNoticed(Input):
    """A new price for the subscription's plan, told to the subscriber now (``occurred_at``).

    Merchant-managed: from a scheduled catalog price version (``change_id``); the machine
    works out the first renewal that may charge it (refrain.domain.price_changes). An app
    store's report (it runs the notice and consent itself) gives ``applies_from`` and,
    once the customer agreed or the store only had to tell them, ``consented``.
    """

    stream: ClassVar[str] = "price"
    change_id: str
    plan: str
    new_price: Money
    effective_at: datetime
    notice_days: int = 0
    consent_required: bool = False
    consented: bool = False
    applies_from: datetime | None = None

    def __post_init__(self) -> None:
        Input.__post_init__(self)
        _aware(self, "effective_at")
        _aware(self, "applies_from")
        if self.notice_days < 0 or self.new_price.amount <= 0:
            raise InvalidInput("a price change needs a positive price and notice days >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceConsentGiven(Input):
    """The subscriber agreed to the pending price change (``change_id``: that one only)."""

    change_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GrandfatherSet(Input):
    """Exempt the subscription from price changes (``exempt=False`` lifts the exemption)."""

    exempt: bool = True
