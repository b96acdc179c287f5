"""The ledger port: apply one input to one subscription, exactly once, with its outbox.

Implemented over Firestore in refrain.adapters.firestore_ledger; the webhook,
the renewal worker and customer-care commands all go through it, so every
state change is deduplicated, ordered by the state machine, and commits
together with the domain events it produced (transactional outbox).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from refrain.domain.events import DomainEvent
from refrain.domain.inputs import Input
from refrain.domain.outcome import ChargeRequest
from refrain.domain.subscription import Subscription
from refrain.ingest.model import CustomerDetails


class LedgerStatus(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this dedupe key was processed before: nothing changes
    STALE = "stale"  # older than what we know: recorded, no state change
    ILLEGAL = "illegal"  # not allowed now: recorded with the reason, no state change
    IGNORED = "ignored"  # nothing to apply (recorded so redeliveries are cheap)
    NO_SUBSCRIPTION = "no_subscription"  # nothing to apply it to yet: not recorded


@dataclass(frozen=True, slots=True)
class LedgerCommand:
    dedupe_key: str
    subscription_id: str | None
    input: Input | None
    now: datetime
    source: str
    draft: Subscription | None = None
    customer: CustomerDetails | None = None
    account_id: str | None = None
    refs: tuple[str, ...] = ()
    note: str | None = None
    audit_id: str | None = None
    # Renewal worker: when the outcome requests a charge, claim `charges/{idempotency key}` in
    # the same transaction (created if absent; an existing pending claim is a re-drive).
    claim_charge: bool = False
    # The Cloud Logging trace of the request that caused this input, stored on the outbox
    # entry so the sweep publishes its events with the same trace as the fast path.
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class LedgerResult:
    status: LedgerStatus
    reason: str | None = None
    outbox_id: str | None = None
    events: tuple[DomainEvent, ...] = field(default=())
    subscription: Subscription | None = None
    charge: ChargeRequest | None = None
    # With claim_charge: "created" (new claim), or the existing claim's status
    # ("pending" = re-drive with the same key; "succeeded"/"declined" = already decided).
    claim: str | None = None


class Ledger(Protocol):
    def apply(self, command: LedgerCommand) -> LedgerResult: ...

    def resolve_ref(self, ref: str) -> str | None:
        """Our subscription id for a provider object reference, if indexed."""
        ...


class EventRelay(Protocol):
    def publish(
        self, outbox_id: str, events: tuple[DomainEvent, ...], trace: str | None = None
    ) -> bool:
        """Publish an outbox entry's events in order; True when all were accepted.

        ``trace`` (a Cloud Logging trace name) goes on every message as an attribute.
        """
        ...


class AuditLog(Protocol):
    def record(
        self, provider: str, headers: dict[str, str], body: bytes, received_at: datetime
    ) -> str: ...

    def finish(self, audit_id: str, outcome: str, detail: str | None, published: list[str]) -> None:
        """Store the outcome, and mark the published outbox entries, in one commit."""
        ...
