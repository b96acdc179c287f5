"""Parking: authentic notifications that cannot be applied yet are kept, not refused.

A real merchant account sends events Refrain cannot apply at the moment they
arrive: a payment that overtook its checkout, an ``updated`` that overtook its
``created``, a refund naming a payment not recorded yet, and events for things
Refrain never created (one-off purchases, dashboard subscriptions, prices it
does not map). Refusing them (4xx) leaves correctness to the provider's
retries, which Adyen and Stripe bound and then punish. Instead every authentic
notification is answered 2xx once stored, and what cannot be applied is
*parked*, keyed by what it waits for:

* ``subscription:{id}`` or ``ref:{provider reference}``: applied automatically
  when that appears: at once when a checkout or ``created`` creates the
  subscription (the webhook wakes what waits for it), otherwise by the
  scheduled sweep, which retries with backoff. Applying goes through the same
  ledger, so the dedupe, staleness and outbox guarantees hold; events waiting
  for one thing are applied in provider order (their own timestamps).
* ``retry``: a stored request whose processing failed for a passing reason
  (transaction contention, a provider API down): the whole request is replayed
  by the sweep, with the same backoff, until it applies.
* nothing (``waits_for`` None): an unmatched request (unknown plan or price,
  a shape we cannot read). It waits for an operator: ``refrain webhooks
  unmatched`` lists it, ``refrain webhooks replay AUDIT_ID`` applies it after
  the configuration is fixed.

A parked record lives as long as the stored request it points to (the audit
retention, 30 days by default; Firestore's TTL deletes both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

__all__ = [
    "FIRST_CHECK",
    "LONGEST_WAIT",
    "ParkedEvent",
    "ParkingLot",
    "next_check",
    "waits_for_ref",
    "waits_for_subscription",
]

FIRST_CHECK: Final = timedelta(minutes=1)
LONGEST_WAIT: Final = timedelta(hours=6)
# The `outcome` label of the sweep's log line; terraform/monitoring.tf reads its age field.
PARKING_SWEPT: Final = "parking_swept"


def waits_for_subscription(subscription_id: str) -> str:
    return f"subscription:{subscription_id}"


def waits_for_ref(ref: str) -> str:
    return f"ref:{ref}"


def next_check(now: datetime, checks: int) -> datetime:
    """When the sweep looks again after ``checks`` looks: 1 min, 2, 4, ... capped at 6 h.

    A late event is applied within minutes; a foreign one costs about 130 checks
    over its 30 days.
    """
    return now + min(FIRST_CHECK * (1 << min(checks, 16)), LONGEST_WAIT)


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """One provider event (or a whole unmatched request) kept for later."""

    key: str  # the event's dedupe key, or "request:{audit_id}" for an unmatched request
    provider: str
    audit_id: str  # the stored raw request it is applied from
    reason: str
    parked_at: datetime
    waits_for: str | None = None  # None: needs an operator
    event_type: str | None = None
    occurred_at: datetime | None = None  # the provider's time: the order they are applied in
    checks: int = 0
    next_check_at: datetime | None = None

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.occurred_at or self.parked_at, self.key)


class ParkingLot(Protocol):
    def park(self, event: ParkedEvent) -> None:
        """Keep it (create-if-absent: a redelivery keeps the first record)."""
        ...

    def waiting_for(self, keys: Sequence[str]) -> list[ParkedEvent]:
        """Everything parked for any of these keys, in provider order."""
        ...

    def due(self, now: datetime, limit: int) -> list[ParkedEvent]:
        """Parked events whose next check has come (operator-only ones never are)."""
        ...

    def reschedule(self, event: ParkedEvent, now: datetime) -> None:
        """Still waiting after a check: one more check, the next one later."""
        ...

    def release(self, key: str) -> None:
        """Applied (or recorded as a duplicate): no longer parked."""
        ...

    def listing(self, parked_before: datetime | None, limit: int) -> list[ParkedEvent]:
        """What waits, oldest first (``parked_before``: only what waited since then)."""
        ...


def kind_of(payload: Any) -> str | None:
    """What an unmatched request is, in the provider's words, for the operator's listing."""
    if isinstance(payload, Mapping) and isinstance(payload.get("type"), str):
        return str(payload["type"])  # a Stripe event
    if isinstance(payload, list) and payload and isinstance(payload[0], Mapping):
        code = payload[0].get("eventCode")  # Adyen notification items
        return str(code) if code else None
    return None
