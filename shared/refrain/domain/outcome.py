"""What a transition returns: the new aggregate, its events, maybe a charge to make."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from refrain.domain.events import DomainEvent, EventType
from refrain.domain.money import Money
from refrain.domain.subscription import Subscription

__all__ = ["ChargeRequest", "Outcome", "OutcomeKind", "Step", "new_charge_request", "new_outcome"]


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


# Fast constructors for the state machine's hot path ---------------------------
# A frozen dataclass's generated ``__init__`` writes each field with a generic
# ``object.__setattr__`` call, which costs CPython 3.11 about as much as the rest
# of a small transition. The slot descriptors' own setters make the same writes
# directly. Same objects, same equality and hash (a unit test compares them);
# unpacking the setters fails at import if a field is added and not wired here.


def _slot_setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    return tuple(cls.__dict__[f.name].__set__ for f in fields(cls))


_new: Final = object.__new__
_KIND, _SUBSCRIPTION, _EVENTS, _REASON, _CHARGE = _slot_setters(Outcome)
(
    _SUBSCRIPTION_ID, _IDEMPOTENCY_KEY, _AMOUNT, _BILLING_ANCHOR, _ATTEMPT, _PURPOSE,
    _PAYMENT_METHOD_REF,
) = _slot_setters(ChargeRequest)  # fmt: skip


def new_outcome(
    kind: OutcomeKind,
    subscription: Subscription,
    events: tuple[DomainEvent, ...] = (),
    reason: str | None = None,
    charge: ChargeRequest | None = None,
) -> Outcome:
    """``Outcome(...)`` at half the cost."""
    out: Outcome = _new(Outcome)
    _KIND(out, kind)
    _SUBSCRIPTION(out, subscription)
    _EVENTS(out, events)
    _REASON(out, reason)
    _CHARGE(out, charge)
    return out


def new_charge_request(
    *,
    subscription_id: str,
    idempotency_key: str,
    amount: Money,
    billing_anchor: datetime,
    attempt: int,
    purpose: str,
    payment_method_ref: str | None,
) -> ChargeRequest:
    """``ChargeRequest(...)`` at half the cost."""
    charge: ChargeRequest = _new(ChargeRequest)
    _SUBSCRIPTION_ID(charge, subscription_id)
    _IDEMPOTENCY_KEY(charge, idempotency_key)
    _AMOUNT(charge, amount)
    _BILLING_ANCHOR(charge, billing_anchor)
    _ATTEMPT(charge, attempt)
    _PURPOSE(charge, purpose)
    _PAYMENT_METHOD_REF(charge, payment_method_ref)
    return charge
