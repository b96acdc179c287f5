"""Parked events in memory, with the Firestore lot's semantics (create-if-absent, due checks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from refrain.ingest.parking import ParkedEvent, next_check


@dataclass
class MemoryParkingLot:
    parked: dict[str, ParkedEvent] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # which operations ran, in order

    def park(self, event: ParkedEvent) -> None:
        self.calls.append("park")
        self.parked.setdefault(event.key, event)

    def waiting_for(self, keys: Sequence[str]) -> list[ParkedEvent]:
        self.calls.append("waiting_for")
        wanted = set(keys)
        return sorted(
            (e for e in self.parked.values() if e.waits_for in wanted), key=lambda e: e.order
        )

    def due(self, now: datetime, limit: int) -> list[ParkedEvent]:
        self.calls.append("due")
        ready = [e for e in self.parked.values() if e.next_check_at and e.next_check_at <= now]
        return sorted(ready, key=lambda e: e.order)[:limit]

    def reschedule(self, event: ParkedEvent, now: datetime) -> None:
        self.calls.append("reschedule")
        if event.key in self.parked:
            checks = event.checks + 1
            self.parked[event.key] = replace(
                event, checks=checks, next_check_at=next_check(now, checks)
            )

    def release(self, key: str) -> None:
        self.calls.append("release")
        if self.parked.pop(key, None) is not None:
            self.released.append(key)

    def listing(self, parked_before: datetime | None, limit: int) -> list[ParkedEvent]:
        self.calls.append("listing")
        found = [
            e for e in self.parked.values() if not parked_before or e.parked_at <= parked_before
        ]
        return sorted(found, key=lambda e: e.parked_at)[:limit]
