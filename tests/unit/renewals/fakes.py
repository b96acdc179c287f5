"""The renewal tick's and worker's reads over the one in-memory ledger (tests/fakes/ledger.py).

The integration tests run the Firestore adapters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from refrain.adapters import firestore_charges as charge_docs
from refrain.domain import Subscription
from refrain.domain.charges import PENDING
from refrain.domain.outcome import ChargeRequest
from tests.fakes.ledger import MemoryLedger


@dataclass
class MemoryPending:
    ledger: MemoryLedger

    def pending_charge(self, subscription_id: str) -> tuple[ChargeRequest, Subscription] | None:
        sub = self.ledger.subs.get(subscription_id)
        key = None if sub is None else sub.pending_charge_key()
        if sub is None or key is None:
            return None
        doc = self.ledger.charges.get(key)
        if doc is None or doc["status"] != PENDING:
            return None
        return charge_docs.charge_from_document(key, doc), sub


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
