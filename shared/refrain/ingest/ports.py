"""What the webhook service stores requests in, and what it reports back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from refrain.ingest.http import HttpResponse
from refrain.ledger import LedgerStatus

__all__ = ["AuditLog", "ParkingReport", "Processed", "StoredBody"]


class AuditLog(Protocol):
    def record(
        self, provider: str, headers: dict[str, str], body: bytes, received_at: datetime
    ) -> str: ...

    def finish(self, audit_id: str, outcome: str, detail: str | None, published: list[str]) -> None:
        """Store the outcome, and mark the published outbox entries, in one commit."""
        ...

    def load(self, audit_id: str) -> StoredBody | None:
        """A stored request again (None once its retention expired)."""
        ...


class StoredBody(Protocol):
    provider: str
    body: bytes


@dataclass(frozen=True)
class Processed:
    """A request's answer, and what happened to each of its events (by dedupe key)."""

    response: HttpResponse
    statuses: Mapping[str, LedgerStatus] = field(default_factory=dict)


@dataclass(frozen=True)
class ParkingReport:
    due: int = 0
    applied: int = 0
    waiting: int = 0
    expired: int = 0
    oldest_age_s: float | None = None
