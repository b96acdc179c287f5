"""What a transition returns: the new aggregate, its events, maybe a charge to make."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from refrain.domain.events import DomainEvent, EventType
from refrain.domain.money import Money
from refrain.domain.subscription import Subscription

__all__ = ["ChargeRequest", "Outcome", "OutcomeKind", "Step"]


class OutcomeKind(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # same input id already applied: no-op
    STALE = "stale"  # older than what we already know: no-op
    ILLEGAL = "illegal"  # not allowed in the current state: no-op, with a reason


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """A charge the caller must make (off-session), keyed for at-most-once."""

    subscription_id: str
    idempotency_key: str
    amount: Money
    billing_anchor: datetime
    attempt: int
    purpose: str  # "renewal" | "proration"
    payment_method_ref: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    subscription: Subscription
    events: tuple[DomainEvent, ...] = ()
    reason: str | None = None
    charge: ChargeRequest | None = None

    @property
    def applied(self) -> bool:
        return self.kind is OutcomeKind.APPLIED

    @property
    def event_types(self) -> list[EventType]:
        return [e.type for e in self.events]


@dataclass(slots=True)
class Step:
    """A handler's result before the machine stamps versions, ids and watermarks."""

    changes: dict[str, Any] = field(default_factory=dict)
    drafts: list[tuple[EventType, dict[str, Any]]] = field(default_factory=list)
    charge: ChargeRequest | None = None

    def emit(self, type_: EventType, **payload: Any) -> None:
        self.drafts.append((type_, payload))
