"""Parked events over Firestore: `parked_events/{document_id(key)}`.

Queries: ``waits_for in [...]`` when a subscription is created (single-field
index), ``next_check_at <= now`` for the sweep (operator-only records carry
no ``next_check_at`` and are never returned), ``parked_at`` for the listing.
``expire_at`` drives Firestore's TTL, aligned with the audit record the event
is applied from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.api_core.exceptions import AlreadyExists, Conflict, NotFound
from google.cloud import firestore

from refrain.adapters.firestore_collections import PARKED_EVENTS, keyed
from refrain.ingest.parking import ParkedEvent, next_check

# Firestore's `in` filter takes at most 30 values.
_IN_LIMIT = 30


def _document(event: ParkedEvent, retention: timedelta) -> dict[str, Any]:
    return {
        "key": event.key,
        "provider": event.provider,
        "audit_id": event.audit_id,
        "reason": event.reason,
        "parked_at": event.parked_at,
        "waits_for": event.waits_for,
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "checks": event.checks,
        "next_check_at": event.next_check_at,
        "expire_at": event.parked_at + retention,
    }


def _parked(data: dict[str, Any]) -> ParkedEvent:
    return ParkedEvent(
        key=str(data["key"]),
        provider=str(data["provider"]),
        audit_id=str(data["audit_id"]),
        reason=str(data.get("reason") or ""),
        parked_at=data["parked_at"],
        waits_for=data.get("waits_for"),
        event_type=data.get("event_type"),
        occurred_at=data.get("occurred_at"),
        checks=int(data.get("checks") or 0),
        next_check_at=data.get("next_check_at"),
    )


@dataclass
class FirestoreParkingLot:
    db: firestore.Client
    retention: timedelta = timedelta(days=30)

    def _ref(self, key: str) -> Any:
        return keyed(self.db, PARKED_EVENTS, key)

    def park(self, event: ParkedEvent) -> None:
        # A redelivery of an event parked already: the first record stands.
        with contextlib.suppress(AlreadyExists, Conflict):
            self._ref(event.key).create(_document(event, self.retention))

    def waiting_for(self, keys: Sequence[str]) -> list[ParkedEvent]:
        found: list[ParkedEvent] = []
        unique = sorted(set(keys))
        for start in range(0, len(unique), _IN_LIMIT):
            query = self.db.collection(PARKED_EVENTS).where(
                filter=firestore.FieldFilter("waits_for", "in", unique[start : start + _IN_LIMIT])
            )
            found.extend(_parked(snap.to_dict() or {}) for snap in query.stream())
        return sorted(found, key=lambda e: e.order)

    def due(self, now: datetime, limit: int) -> list[ParkedEvent]:
        query = (
            self.db.collection(PARKED_EVENTS)
            .where(filter=firestore.FieldFilter("next_check_at", "<=", now))
            .order_by("next_check_at")
            .limit(limit)
        )
        return sorted((_parked(s.to_dict() or {}) for s in query.stream()), key=lambda e: e.order)

    def reschedule(self, event: ParkedEvent, now: datetime) -> None:
        fields = {"checks": event.checks + 1, "next_check_at": next_check(now, event.checks + 1)}
        with contextlib.suppress(NotFound):  # released meanwhile by a concurrent wake-up
            self._ref(event.key).update(fields)

    def release(self, key: str) -> None:
        self._ref(key).delete()

    def listing(self, parked_before: datetime | None, limit: int) -> list[ParkedEvent]:
        query = self.db.collection(PARKED_EVENTS).order_by("parked_at")
        if parked_before is not None:
            query = query.where(filter=firestore.FieldFilter("parked_at", "<=", parked_before))
        return [_parked(s.to_dict() or {}) for s in query.limit(limit).stream()]
