"""Refrain's pure domain core: money, catalog, subscription state machine, events.

No Google or AWS imports here (a unit test enforces it); adapters live in
``refrain.adapters``. The names below are the stable public API.

Each name is imported from its module on first use (PEP 562), so importing one
submodule (``refrain.domain.clock``) or one name does not load the rest: the
catalog (pydantic models, babel) is paid for only by a function that uses it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from refrain.domain.catalog import Catalog, Offer, load_catalog
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
    from refrain.domain.plan_change import ChangeDirection
    from refrain.domain.provider_amounts import from_provider_amount, to_provider_amount
    from refrain.domain.subscription import BillingMode, ChurnType, State, Subscription
    from refrain.domain.tax import TaxBreakdown, TaxMode, add_tax, extract_tax

# name -> the module that defines it
_HOME = {
    "BillingMode": "refrain.domain.subscription",
    "CancelRequested": "refrain.domain.inputs",
    "CancelReverted": "refrain.domain.inputs",
    "Catalog": "refrain.domain.catalog",
    "ChangeDirection": "refrain.domain.plan_change",
    "ChargeRequest": "refrain.domain.outcome",
    "ChargebackOpened": "refrain.domain.inputs",
    "CheckoutCompleted": "refrain.domain.inputs",
    "ChurnType": "refrain.domain.subscription",
    "Clock": "refrain.domain.clock",
    "CurrencyMismatch": "refrain.domain.errors",
    "DEFAULT_POLICY": "refrain.domain.dunning",
    "Decline": "refrain.domain.declines",
    "DeclineCategory": "refrain.domain.declines",
    "DomainError": "refrain.domain.errors",
    "DomainEvent": "refrain.domain.events",
    "DunningPolicy": "refrain.domain.dunning",
    "EventParseError": "refrain.domain.errors",
    "EventType": "refrain.domain.events",
    "FixedClock": "refrain.domain.clock",
    "GracePeriodOver": "refrain.domain.inputs",
    "HoldOver": "refrain.domain.inputs",
    "Input": "refrain.domain.inputs",
    "ManualClock": "refrain.domain.clock",
    "Money": "refrain.domain.money",
    "Offer": "refrain.domain.catalog",
    "Outcome": "refrain.domain.outcome",
    "OutcomeKind": "refrain.domain.outcome",
    "PauseRequested": "refrain.domain.inputs",
    "PaymentFailed": "refrain.domain.inputs",
    "PaymentMethodUpdated": "refrain.domain.inputs",
    "PaymentSucceeded": "refrain.domain.inputs",
    "PlanChangeRequested": "refrain.domain.inputs",
    "ProviderStateReported": "refrain.domain.inputs",
    "ProviderStatus": "refrain.domain.inputs",
    "PubSubMessage": "refrain.domain.events",
    "RefundIssued": "refrain.domain.inputs",
    "RenewalDue": "refrain.domain.inputs",
    "ResumeRequested": "refrain.domain.inputs",
    "State": "refrain.domain.subscription",
    "Subscription": "refrain.domain.subscription",
    "SystemClock": "refrain.domain.clock",
    "TaxBreakdown": "refrain.domain.tax",
    "TaxMode": "refrain.domain.tax",
    "UnknownMarket": "refrain.domain.errors",
    "UnknownPlan": "refrain.domain.errors",
    "add_tax": "refrain.domain.tax",
    "apply": "refrain.domain.machine",
    "check_invariants": "refrain.domain.invariants",
    "classify_adyen": "refrain.domain.declines",
    "classify_stripe": "refrain.domain.declines",
    "due_timers": "refrain.domain.machine",
    "ensure_utc": "refrain.domain.clock",
    "extract_tax": "refrain.domain.tax",
    "format_money": "refrain.domain.money",
    "from_provider_amount": "refrain.domain.provider_amounts",
    "from_pubsub_message": "refrain.domain.events",
    "load_catalog": "refrain.domain.catalog",
    "next_deadline": "refrain.domain.machine",
    "to_provider_amount": "refrain.domain.provider_amounts",
    "to_pubsub_message": "refrain.domain.events",
}

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


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
