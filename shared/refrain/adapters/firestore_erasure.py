"""Firestore for erasure (refrain.privacy.erasure): where one account's personal data lives.

Every lookup starts from the account id or from the account's subscriptions:

* ``customers/{account}`` and ``entitlements/{account}``: read, then deleted;
* ``outbox`` entries ``where subscription_id ==`` (the ledger's own index): their
  ``audit_id`` names the stored raw notifications, their events the notices e-mailed;
* ``webhook_audit/{audit id}`` deleted; ``parked_events where audit_id in [...]`` deleted;
* ``receipt_sends/{invoice or notice id}``: the SES message id dropped, the status kept;
* ``invoices where account_id ==``: the account id replaced by the alias, nothing else;
* ``subscriptions/{id}`` in a transaction (a ledger commit racing it retries), and the
  events stored in its outbox entries: every value equal to the account id becomes the
  alias.

Requests the audit trail holds that nothing applied to the account (unmatched ones)
cannot be found by account; they go with their TTL (30 days, docs/PRIVACY.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from google.cloud import firestore

from refrain.adapters.firestore_account_documents import ledger_entries, ledger_events
from refrain.adapters.firestore_accounts import FirestoreAccounts
from refrain.adapters.firestore_collections import (
    CUSTOMERS,
    ENTITLEMENTS,
    ERASURES,
    INVOICES,
    PARKED_EVENTS,
    RECEIPT_SENDS,
    SUBSCRIPTIONS,
    WEBHOOK_AUDIT,
    keyed,
)
from refrain.domain.subscription import Subscription
from refrain.invoicing.numbering import document_id as notice_document_id
from refrain.privacy.erasure import ErasureRecord
from refrain.privacy.retention import ERASURE_RECORD_RETENTION

_IN_LIMIT = 30  # Firestore's `in` filter
_BATCH = 400  # writes per batch, under Firestore's 500
MAX_ENTRIES = 20_000  # ledger entries per subscription looked at
T = TypeVar("T")


def swap(value: Any, old: str, new: str) -> Any:
    """``value`` with every string equal to ``old`` replaced by ``new`` (dicts, lists)."""
    if isinstance(value, dict):
        return {k: swap(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [swap(v, old, new) for v in value]
    return new if value == old else value


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


@dataclass
class FirestoreErasure:
    db: firestore.Client

    def subscriptions(self, account_id: str) -> list[Subscription]:
        return FirestoreAccounts(self.db).subscriptions(account_id)

    def _entries(self, subscription_id: str) -> list[Any]:
        return list(ledger_entries(self.db, subscription_id, MAX_ENTRIES).stream())

    def audit_ids(self, subscription_ids: Sequence[str]) -> list[str]:
        found: dict[str, None] = {}
        for sid in subscription_ids:
            for snap in self._entries(sid):
                audit = (snap.to_dict() or {}).get("audit_id")
                if isinstance(audit, str) and audit:
                    found[audit] = None
        return list(found)

    def notice_ids(self, account_id: str, subscription_ids: Sequence[str]) -> list[str]:
        found: dict[str, None] = {}
        query = self.db.collection(INVOICES).where(
            filter=firestore.FieldFilter("account_id", "==", account_id)
        )
        for snap in query.stream():
            invoice_id = (snap.to_dict() or {}).get("invoice_id")
            if isinstance(invoice_id, str):
                found[invoice_id] = None
        for sid in subscription_ids:
            for snap in self._entries(sid):
                for _, event_id in ledger_events((snap.to_dict() or {}).get("events") or []):
                    found[notice_document_id("notice", event_id)] = None
        return list(found)

    def _delete_one(self, collection: str, key: str) -> int:
        ref = keyed(self.db, collection, key)
        if not ref.get().exists:
            return 0
        ref.delete()
        return 1

    def delete_customer(self, account_id: str) -> int:
        return self._delete_one(CUSTOMERS, account_id)

    def delete_entitlements(self, account_id: str) -> int:
        return self._delete_one(ENTITLEMENTS, account_id)

    def drop_audit_bodies(self, audit_ids: Sequence[str]) -> int:
        return sum(self._delete_one(WEBHOOK_AUDIT, audit_id) for audit_id in audit_ids)

    def delete_parked(self, audit_ids: Sequence[str]) -> int:
        deleted = 0
        for chunk in _chunks(audit_ids, _IN_LIMIT):
            query = self.db.collection(PARKED_EVENTS).where(
                filter=firestore.FieldFilter("audit_id", "in", chunk)
            )
            for snap in query.stream():
                snap.reference.delete()
                deleted += 1
        return deleted

    def reduce_send_records(self, notice_ids: Sequence[str]) -> int:
        reduced = 0
        for chunk in _chunks(notice_ids, 100):
            refs = [keyed(self.db, RECEIPT_SENDS, i) for i in chunk]
            for snap in self.db.get_all(refs):
                if snap.exists and "message_id" in (snap.to_dict() or {}):
                    snap.reference.update({"message_id": firestore.DELETE_FIELD})
                    reduced += 1
        return reduced

    def rename_invoices(self, account_id: str, alias: str) -> int:
        query = self.db.collection(INVOICES).where(
            filter=firestore.FieldFilter("account_id", "==", account_id)
        )
        refs = [snap.reference for snap in query.stream()]
        for chunk in _chunks(refs, _BATCH):
            batch = self.db.batch()
            for ref in chunk:
                batch.update(ref, {"account_id": alias})
            batch.commit()
        return len(refs)

    def rename_subscriptions(
        self, subscription_ids: Sequence[str], account_id: str, alias: str
    ) -> tuple[int, int]:
        renamed = entries = 0
        for sid in subscription_ids:
            entries += self._rename_entries(sid, account_id, alias)
            renamed += self._rename_subscription(sid, account_id, alias)
        return renamed, entries

    def _rename_entries(self, sid: str, account_id: str, alias: str) -> int:
        changed = 0
        for snap in self._entries(sid):
            raw = (snap.to_dict() or {}).get("events") or []
            events = [json.loads(e) if isinstance(e, str) else e for e in raw]
            swapped = swap(events, account_id, alias)
            if swapped != events:
                stored = [json.dumps(e, separators=(",", ":")) for e in swapped]
                snap.reference.update({"events": stored})
                changed += 1
        return changed

    def _rename_subscription(self, sid: str, account_id: str, alias: str) -> int:
        ref = keyed(self.db, SUBSCRIPTIONS, sid)

        @firestore.transactional
        def body(tx: firestore.Transaction) -> int:
            snap = ref.get(transaction=tx)
            doc = snap.to_dict() or {}
            if not snap.exists or doc.get("account_id") != account_id:
                return 0
            tx.set(ref, swap(doc, account_id, alias))
            return 1

        return int(body(self.db.transaction()))

    def recorded(self, account_hash: str) -> ErasureRecord | None:
        snap = self.db.collection(ERASURES).document(account_hash).get()
        if not snap.exists:
            return None
        doc = snap.to_dict() or {}
        return ErasureRecord(
            account_hash, doc["erased_at"], {k: int(v) for k, v in doc["counts"].items()},
            doc["last_run_at"],
        )  # fmt: skip

    def record(self, record: ErasureRecord) -> None:
        expire_at: datetime = record.last_run_at + ERASURE_RECORD_RETENTION
        self.db.collection(ERASURES).document(record.account_hash).set({
            "erased_at": record.erased_at, "last_run_at": record.last_run_at,
            "counts": record.counts, "expire_at": expire_at,
        })  # fmt: skip
