"""The webhook audit trail in memory: what was stored, and how each request ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from refrain.ingest.replay import StoredRequest


@dataclass
class RecordingAudit:
    records: list[tuple[str, bytes]] = field(default_factory=list)
    finished: list[tuple[str, str]] = field(default_factory=list)
    stored: dict[str, StoredRequest] = field(default_factory=dict)

    def record(
        self, provider: str, headers: dict[str, str], body: bytes, received_at: datetime
    ) -> str:
        self.records.append((provider, body))
        audit_id = f"audit-{len(self.records)}"
        self.stored[audit_id] = StoredRequest(
            audit_id, provider, dict(headers), body, "received", received_at
        )
        return audit_id

    def finish(self, audit_id: str, outcome: str, detail: str | None, published: list[str]) -> None:
        self.finished.append((audit_id, outcome))

    def load(self, audit_id: str) -> StoredRequest | None:
        return self.stored.get(audit_id)
