"""Operator replay of stored webhook requests (`refrain webhooks replay`).

A replay runs the stored, already verified body through the same
normalise → ledger → publish path. The dedupe record makes it safe: an event
that was applied before is a duplicate and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from refrain.ingest.http import HttpResponse
from refrain.ingest.service import WebhookService


@dataclass
class StoredRequest:
    """A verified webhook request as the audit trail kept it."""

    audit_id: str
    provider: str
    headers: dict[str, str]
    body: bytes
    outcome: str
    received_at: datetime


class StoredRequests(Protocol):
    """The audit trail, read back for replay."""

    def load(self, audit_id: str) -> StoredRequest | None: ...

    def failed(self, limit: int = 500) -> list[StoredRequest]:
        """Requests whose processing failed, or that nothing matched (parked for an operator)."""
        ...


@dataclass(frozen=True)
class ReplayResult:
    audit_id: str
    provider: str
    status: int
    body: str


def replay_one(service: WebhookService, stored: StoredRequests, audit_id: str) -> ReplayResult:
    request = stored.load(audit_id)
    if request is None:
        raise LookupError(f"no stored webhook request {audit_id}")
    answer: HttpResponse = service.replay(request.provider, request.body, request.audit_id)
    return ReplayResult(request.audit_id, request.provider, answer.status, answer.body)


def replay_failed(service: WebhookService, stored: StoredRequests) -> list[ReplayResult]:
    return [replay_one(service, stored, request.audit_id) for request in stored.failed()]
