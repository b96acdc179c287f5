"""Operator replay of stored webhook requests (`refrain webhooks replay`).

A replay runs the stored, already verified body through the same
normalise → ledger → publish path. The dedupe record makes it safe: an event
that was applied before is a duplicate and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from refrain.adapters.firestore_audit import FirestoreAuditLog
from refrain.ingest.service import HttpResponse, WebhookService


@dataclass(frozen=True)
class ReplayResult:
    audit_id: str
    provider: str
    status: int
    body: str


def replay_one(service: WebhookService, audit: FirestoreAuditLog, audit_id: str) -> ReplayResult:
    stored = audit.load(audit_id)
    if stored is None:
        raise LookupError(f"no stored webhook request {audit_id}")
    answer: HttpResponse = service.replay(stored.provider, stored.body, stored.audit_id)
    return ReplayResult(stored.audit_id, stored.provider, answer.status, answer.body)


def replay_failed(service: WebhookService, audit: FirestoreAuditLog) -> list[ReplayResult]:
    return [replay_one(service, audit, stored.audit_id) for stored in audit.failed()]
