"""The webhook audit trail: every verified request, stored before it is processed.

A record holds the provider, the headers minus credentials (signature headers only
as digests, so a reader of this collection cannot replay a request), the raw body
(zlib-compressed: a 1 MiB JSON body must fit Firestore's 1 MiB document
limit), the outcome, and `expire_at` for Firestore's TTL policy. Its outcome
update and the outbox entries' `published` marks share one commit.

Audit ids are ours (uuid4 hex, which encodes to itself), but `load` also takes
an operator's argument, so every audit path goes through
``firestore_collections.keyed`` like the outside ids do.
"""

from __future__ import annotations

import hashlib
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore

from refrain.adapters.firestore_collections import OUTBOX, WEBHOOK_AUDIT, keyed
from refrain.adapters.firestore_outbox import published_marker
from refrain.ingest.replay import StoredRequest

_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
# Kept as a digest: enough to tell two deliveries apart, never enough to replay one.
_SIGNATURE_HEADERS = frozenset({"stripe-signature"})


def audit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping: no credentials, and signatures only as SHA-256 digests."""
    return {
        name: _digest(value) if name.lower() in _SIGNATURE_HEADERS else value
        for name, value in headers.items()
        if name.lower() not in _CREDENTIAL_HEADERS
    }


def _digest(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


@dataclass
class FirestoreAuditLog:
    db: firestore.Client
    retention: timedelta = timedelta(days=30)
    now: Callable[[], datetime] | None = None

    def record(
        self, provider: str, headers: dict[str, str], body: bytes, received_at: datetime
    ) -> str:
        audit_id = uuid.uuid4().hex
        keyed(self.db, WEBHOOK_AUDIT, audit_id).create(
            {
                "provider": provider,
                "headers": audit_headers(headers),
                "body_zlib": zlib.compress(body, 6),
                "size": len(body),
                "outcome": "received",
                "received_at": received_at,
                "expire_at": received_at + self.retention,
            }
        )
        return audit_id

    def finish(self, audit_id: str, outcome: str, detail: str | None, published: list[str]) -> None:
        batch = self.db.batch()
        stamp = firestore.SERVER_TIMESTAMP
        batch.update(
            keyed(self.db, WEBHOOK_AUDIT, audit_id),
            {"outcome": outcome, "detail": detail, "finished_at": stamp},
        )
        for outbox_id in published:
            batch.update(keyed(self.db, OUTBOX, outbox_id), published_marker(stamp))
        batch.commit()

    def load(self, audit_id: str) -> StoredRequest | None:
        snap = keyed(self.db, WEBHOOK_AUDIT, audit_id).get()
        if not snap.exists:
            return None
        return _stored(audit_id, snap.to_dict() or {})

    def failed(self, limit: int = 500) -> list[StoredRequest]:
        """Requests whose processing failed or that nothing matched: replay candidates."""
        query = (
            self.db.collection(WEBHOOK_AUDIT)
            .where(filter=firestore.FieldFilter("outcome", "in", ["failed", "unmatched"]))
            .limit(limit)
        )
        return [_stored(s.id, s.to_dict() or {}) for s in query.stream()]


def _stored(audit_id: str, data: dict[str, Any]) -> StoredRequest:
    return StoredRequest(
        audit_id=audit_id,
        provider=str(data["provider"]),
        headers=dict(data.get("headers") or {}),
        body=zlib.decompress(data["body_zlib"]),
        outcome=str(data.get("outcome")),
        received_at=data["received_at"],
    )
