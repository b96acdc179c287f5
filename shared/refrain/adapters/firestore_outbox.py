"""The outbox over Firestore: `outbox/{dedupe key}`, one document per ledger entry.

The dedupe record *is* the outbox entry: it carries the domain events and a
`published` flag, so the sweep finds unpublished events with one indexed
query (published == false, ordered by created_at) and a crash between commit
and publish loses nothing. :func:`published_marker` is the one way an entry
is marked published (after a publish, by the sweep, or in the webhook's
audit commit).

The document id is the dedupe key encoded (``firestore_collections.keyed``);
the key itself is stored in ``dedupe_key``, since a long key's document id is
hashed and cannot be decoded: :func:`entry_key` gives it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import firestore

from refrain.adapters.document_ids import original_id
from refrain.adapters.firestore_collections import OUTBOX, keyed
from refrain.domain.events import DomainEvent
from refrain.ledger import OutboxEntry
from refrain.outbox import PendingEntry


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
        query = (
            self.db.collection(OUTBOX)
            .where(filter=firestore.FieldFilter("published", "==", False))
            .where(filter=firestore.FieldFilter("created_at", "<=", created_before))
            .order_by("created_at")
            .limit(limit)
        )
        for snap in query.stream():
            record = snap.to_dict() or {}
            yield PendingEntry(entry_key(snap.id, record), events_of(record), trace_of(record))
