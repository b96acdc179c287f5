"""Firestore reads for care and `refrain subscriptions show`.

History is the ledger itself: every `outbox` entry names its subscription, so
one indexed query (subscription_id ==, ordered by created_at; the composite
index is declared in refrain_tools.infra.firestore_spec) lists every input ever
applied, refused or ignored for a subscription, with the events it produced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import firestore

from refrain.adapters.firestore_collections import OUTBOX, SUBSCRIPTIONS, keyed
from refrain.adapters.firestore_outbox import entry_key
from refrain.domain.subscription import Subscription


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One ledger record, JSON-safe (timestamps as ISO strings, events parsed)."""

    entry_id: str
    created_at: str | None
    source: str | None
    input_type: str | None
    status: str | None
    reason: str | None
    published: bool | None
    audit_id: str | None
    events: tuple[dict[str, Any], ...]

    @property
    def event_types(self) -> list[str]:
        return [str(e.get("type")) for e in self.events]

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "created_at": self.created_at,
            "source": self.source,
            "input_type": self.input_type,
            "status": self.status,
            "reason": self.reason,
            "published": self.published,
            "audit_id": self.audit_id,
            "events": list(self.events),
        }


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def history_entry(entry_id: str, doc: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        entry_id=entry_id,
        created_at=_iso(doc.get("created_at")),
        source=doc.get("source"),
        input_type=doc.get("input_type"),
        status=doc.get("status"),
        reason=doc.get("reason"),
        published=doc.get("published"),
        audit_id=doc.get("audit_id"),
        events=tuple(json.loads(raw) for raw in doc.get("events") or []),
    )


@dataclass
class FirestoreCareStore:
    db: firestore.Client

    def subscription(self, subscription_id: str) -> Subscription | None:
        if not subscription_id:
            return None
        snap = keyed(self.db, SUBSCRIPTIONS, subscription_id).get()
        return Subscription.from_dict(snap.to_dict() or {}) if snap.exists else None

    def entry_status(self, dedupe_key: str) -> str | None:
        snap = keyed(self.db, OUTBOX, dedupe_key).get()
        return str((snap.to_dict() or {}).get("status")) if snap.exists else None

    def history(self, subscription_id: str) -> list[HistoryEntry]:
        query = (
            self.db.collection(OUTBOX)
            .where(filter=firestore.FieldFilter("subscription_id", "==", subscription_id))
            .order_by("created_at")
        )
        entries = [(snap.id, snap.to_dict() or {}) for snap in query.stream()]
        return [history_entry(entry_key(doc_id, doc), doc) for doc_id, doc in entries]
