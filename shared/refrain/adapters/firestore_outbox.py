"""The outbox over Firestore: `outbox/{dedupe key}`, one document per ledger entry.

The dedupe record *is* the outbox entry: it carries the domain events and a
`published` flag, so the sweep finds unpublished events with one indexed
query (published == false, ordered by created_at) and a crash between commit
and publish loses nothing. :func:`published_marker` is the one way an entry
is marked published (after a publish, by the sweep, or in the webhook's
audit commit).

The sweep asks each shard (refrain.adapters.firestore_shards) for its oldest unpublished
entries and merges them, so its index is written side by side, not at one hot end.

The document id is the dedupe key encoded (``firestore_collections.keyed``);
the key itself is stored in ``dedupe_key``, since a long key's document id is
hashed and cannot be decoded: :func:`entry_key` gives it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from google.cloud import firestore

from refrain.adapters.document_ids import original_id
from refrain.adapters.firestore_collections import OUTBOX, keyed
from refrain.adapters.firestore_shards import SHARDS, merged, shard_of
from refrain.domain.events import DomainEvent
from refrain.ledger import OutboxEntry
from refrain.outbox import PendingEntry

SWEEP_SHARD = "sweep_shard"


def entry_document(entry: OutboxEntry, dedupe_key: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "dedupe_key": dedupe_key,
        "source": entry.source,
        "subscription_id": entry.subscription_id,
        "input_type": entry.input_type,
        "created_at": entry.created_at,
        "audit_id": entry.audit_id,
        "events": [event.model_dump_json() for event in entry.events],
        "published": entry.published,
        # Leads the sweep's index, so entries created at 1,000/s spread over SHARDS ranges.
        SWEEP_SHARD: shard_of(dedupe_key),
        "status": entry.status,
        "reason": entry.reason,
    }
    if entry.trace:
        doc["trace"] = entry.trace
    if entry.charge_id is not None:
        doc["charge_id"] = entry.charge_id
    return doc


def entry_key(doc_id: str, record: dict[str, Any]) -> str:
    """The dedupe key (outbox id) of a stored entry, as the ledger and publisher know it."""
    key = record.get("dedupe_key")
    if isinstance(key, str) and key:
        return key
    return original_id(doc_id) or doc_id  # an entry written before keys were stored


def events_of(record: dict[str, Any]) -> tuple[DomainEvent, ...]:
    return tuple(DomainEvent.model_validate_json(raw) for raw in record.get("events") or [])


def trace_of(record: dict[str, Any]) -> str | None:
    """The trace of the request that wrote an outbox entry, if it had one."""
    trace = record.get("trace")
    return trace if isinstance(trace, str) and trace else None


def published_marker(at: datetime | object, *, swept: bool = False) -> dict[str, Any]:
    """The fields that mark an entry published; ``at`` may be firestore.SERVER_TIMESTAMP."""
    marker = {"published": True, "published_at": at}
    return {**marker, "swept": True} if swept else marker


@dataclass
class FirestoreOutbox:
    db: firestore.Client

    def mark_published(self, outbox_id: str, at: datetime, *, swept: bool = False) -> None:
        keyed(self.db, OUTBOX, outbox_id).update(published_marker(at, swept=swept))

    def unpublished(self, created_before: datetime, limit: int) -> Iterator[PendingEntry]:
        """Up to ``limit`` unpublished entries, oldest first within what each shard gave."""
        per_shard = -(-limit // SHARDS)  # every shard gets its turn: none starves the others
        streams = [self._unpublished_in(s, created_before, per_shard) for s in range(SHARDS)]
        for _, snap in islice(merged(streams, key=lambda e: e[0]), limit):
            record = snap.to_dict() or {}
            yield PendingEntry(entry_key(snap.id, record), events_of(record), trace_of(record))

    def _unpublished_in(
        self, shard: int, created_before: datetime, limit: int
    ) -> Iterator[tuple[tuple[datetime, str], Any]]:
        query = (
            self.db.collection(OUTBOX)
            .where(filter=firestore.FieldFilter("published", "==", False))
            .where(filter=firestore.FieldFilter(SWEEP_SHARD, "==", shard))
            .where(filter=firestore.FieldFilter("created_at", "<=", created_before))
            .order_by("created_at")
            .limit(limit)
        )
        for snap in query.stream():
            yield ((snap.get("created_at"), snap.id), snap)
