"""In-memory ledger, due source and announcer with FirestoreLedger's semantics (unit tests only).

Same rules as refrain.adapters.firestore_ledger: dedupe record per key, claim of
`charges/{key}` with the RenewalDue, first recorded outcome of a charge wins and the
same outcome again is a duplicate. The integration tests run the real adapter.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from refrain.adapters import firestore_charges as charges
from refrain.domain import DomainEvent, OutcomeKind, Subscription, apply, next_deadline
from refrain.domain.outcome import ChargeRequest
from refrain.domain.subscription import BillingMode, State
from refrain.ingest.ledger import LedgerCommand, LedgerResult, LedgerStatus

DUE = (State.TRIALING, State.ACTIVE, State.PAST_DUE, State.ON_HOLD, State.PAUSED)


@dataclass
class MemoryLedger:
    subs: dict[str, Subscription] = field(default_factory=dict)
    outbox: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    deadlines: dict[str, datetime | None] = field(default_factory=dict)  # the query index
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for sub in self.subs.values():
            self._index(sub)

    def _index(self, sub: Subscription) -> None:
        due = sub.billing_mode is BillingMode.MERCHANT_MANAGED and sub.state in DUE
        self.deadlines[sub.subscription_id] = next_deadline(sub) if due else None

    def resolve_ref(self, ref: str) -> str | None:
        return None

    def apply(self, cmd: LedgerCommand) -> LedgerResult:
        with self._lock:
            return self._apply(cmd)

    def _apply(self, cmd: LedgerCommand) -> LedgerResult:
        if cmd.dedupe_key in self.outbox:
            return LedgerResult(LedgerStatus.DUPLICATE, "already")
        sub = self.subs.get(cmd.subscription_id or "")
        if sub is None or cmd.input is None:
            return LedgerResult(LedgerStatus.NO_SUBSCRIPTION)
        charge_id = charges.payment_charge_id(cmd.input)
        doc = self.charges.get(charge_id) if charge_id else None
        if doc is not None and doc["status"] == charges.outcome_of(cmd.input):
            return LedgerResult(LedgerStatus.DUPLICATE, "charge outcome already recorded")
        outcome = apply(sub, cmd.input, cmd.now)
        status = LedgerStatus(outcome.kind.value)
        claim = None
        if cmd.claim_charge and outcome.kind is OutcomeKind.APPLIED and outcome.charge:
            key = outcome.charge.idempotency_key
            if key in self.charges:
                self.charges[key]["drives"] += 1
                claim = str(self.charges[key]["status"])
            else:
                self.charges[key] = charges.claim_document(outcome.charge, sub.provider, cmd.now)
                claim = "created"
        self.outbox[cmd.dedupe_key] = {"status": status.value, "events": outcome.events}
        if outcome.kind is OutcomeKind.APPLIED:
            self.subs[sub.subscription_id] = outcome.subscription
            self._index(outcome.subscription)
        if doc is not None and (
            doc["status"] == charges.PENDING or charges.outcome_of(cmd.input) == charges.SUCCEEDED
        ):
            doc.update(charges.outcome_fields(cmd.input, cmd.source, status.value, cmd.now))
        return LedgerResult(
            status, outcome.reason, cmd.dedupe_key if outcome.events else None,
            outcome.events, outcome.subscription, outcome.charge, claim,
        )  # fmt: skip


@dataclass
class MemoryPending:
    ledger: MemoryLedger

    def pending_charge(self, subscription_id: str) -> tuple[ChargeRequest, Subscription] | None:
        sub = self.ledger.subs.get(subscription_id)
        if sub is None or not sub.charge_pending:
            return None
        key = sub.charge_idempotency_key()
        doc = self.ledger.charges.get(key)
        if doc is None or doc["status"] != charges.PENDING:
            return None
        return charges.charge_from_document(key, doc), sub


@dataclass
class MemoryDueSource:
    ledger: MemoryLedger
    documents_read: int = 0

    def due_pages(self, now: datetime, page_size: int) -> Iterator[list[Subscription]]:
        due = sorted(
            (deadline, sid)
            for sid, deadline in self.ledger.deadlines.items()
            if deadline is not None and deadline <= now
        )
        for start in range(0, len(due), page_size):
            page = [self.ledger.subs[sid] for _, sid in due[start : start + page_size]]
            self.documents_read += len(page)
            yield page


@dataclass
class ListAnnouncer:
    announced: list[str] = field(default_factory=list)

    def announce(self, outbox_id: str, events: tuple[DomainEvent, ...]) -> None:
        self.announced.append(outbox_id)
