"""Refrain's pure domain core: money, catalog, subscription state machine, events.

No Google or AWS imports here (a unit test enforces it); adapters live in
``refrain.adapters``. The names below are the stable public API.
"""

from refrain.domain.catalog import Catalog, ChangeDirection, Offer, load_catalog
from refrain.domain.clock import Clock, FixedClock, ManualClock, SystemClock, ensure_utc
from refrain.domain.declines import Decline, DeclineCategory, classify_adyen, classify_stripe
from refrain.domain.dunning import DEFAULT_POLICY, DunningPolicy
from refrain.domain.errors import (
    CurrencyMismatch,
    DomainError,
    EventParseError,
    UnknownMarket,
    UnknownPlan,
)
from refrain.domain.events import (
    DomainEvent,
    EventType,
    PubSubMessage,
    from_pubsub_message,
    to_pubsub_message,
)
from refrain.domain.inputs import (
    CancelRequested,
    CancelReverted,
    ChargebackOpened,
    CheckoutCompleted,
    GracePeriodOver,
    HoldOver,
    Input,
    PauseRequested,
    PaymentFailed,
    PaymentMethodUpdated,
    PaymentSucceeded,
    PlanChangeRequested,
    ProviderStateReported,
    ProviderStatus,
    RefundIssued,
    RenewalDue,
    ResumeRequested,
)
from refrain.domain.invariants import check_invariants
from refrain.domain.machine import apply, due_timers, next_deadline
from refrain.domain.money import Money, format_money
from refrain.domain.outcome import ChargeRequest, Outcome, OutcomeKind
from refrain.domain.provider_amounts import from_provider_amount, to_provider_amount
from refrain.domain.subscription import BillingMode, ChurnType, State, Subscription
from refrain.domain.tax import TaxBreakdown, TaxMode, add_tax, extract_tax

__all__ = [
    "DEFAULT_POLICY",
    "BillingMode",
    "CancelRequested",
    "CancelReverted",
    "Catalog",
    "ChangeDirection",
    "ChargeRequest",
    "ChargebackOpened",
    "CheckoutCompleted",
    "ChurnType",
    "Clock",
    "CurrencyMismatch",
    "Decline",
    "DeclineCategory",
    "DomainError",
    "DomainEvent",
    "DunningPolicy",
    "EventParseError",
    "EventType",
    "FixedClock",
    "GracePeriodOver",
    "HoldOver",
    "Input",
    "ManualClock",
    "Money",
    "Offer",
    "Outcome",
    "OutcomeKind",
    "PauseRequested",
    "PaymentFailed",
    "PaymentMethodUpdated",
    "PaymentSucceeded",
    "PlanChangeRequested",
    "ProviderStateReported",
    "ProviderStatus",
    "PubSubMessage",
    "RefundIssued",
    "RenewalDue",
    "ResumeRequested",
    "State",
    "Subscription",
    "SystemClock",
    "TaxBreakdown",
    "TaxMode",
    "UnknownMarket",
    "UnknownPlan",
    "add_tax",
    "apply",
    "check_invariants",
    "classify_adyen",
    "classify_stripe",
    "due_timers",
    "ensure_utc",
    "extract_tax",
    "format_money",
    "from_provider_amount",
    "from_pubsub_message",
    "load_catalog",
    "next_deadline",
    "to_provider_amount",
    "to_pubsub_message",
]
