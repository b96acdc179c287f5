"""Firestore for the account API's documents: invoices, the PDF's invoice, the data export.

* ``invoice_page``: ``invoices`` where ``account_id ==``, ordered by ``issued_at`` then
  the document id, both descending (the composite index ``account_id``,
  ``issued_at DESC`` is declared in refrain_tools.infra.firestore_spec; Firestore
  orders by the document id in the last field's direction by itself), started after
  the cursor's values.
* ``invoice_by_number``: two equality filters (``account_id`` and ``number``), which
  Firestore serves from its single-field indexes.
* ``history``: the ledger's own records for a subscription (refrain.adapters.firestore_care).
* ``sends``: ``receipt_sends`` documents by notice id, in one batched read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import firestore

from refrain.account.documents import Cursor, LedgerRecord, SendRecord
from refrain.adapters.firestore_accounts import FirestoreAccounts
from refrain.adapters.firestore_collections import CUSTOMERS, INVOICES, OUTBOX, RECEIPT_SENDS, keyed
from refrain.domain.subscription import Subscription
from refrain.invoicing.model import Invoice

MAX_HISTORY = 5000  # ledger records per subscription read for an export
_BATCH = 100


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def ledger_entries(db: firestore.Client, subscription_id: str, limit: int) -> firestore.Query:
    """A subscription's ledger entries (outbox), oldest first (a composite index)."""
    return (
        db.collection(OUTBOX)
        .where(filter=firestore.FieldFilter("subscription_id", "==", subscription_id))
        .order_by("created_at")
        .limit(limit)
    )


def ledger_events(raw: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    """(type, event id) of the events a ledger entry stores as JSON."""
    found = []
    for item in raw:
        doc = json.loads(item) if isinstance(item, str) else item
        if isinstance(doc, dict):
            found.append((str(doc.get("type")), str(doc.get("event_id"))))
    return tuple(found)


@dataclass
class FirestoreAccountDocuments:
    db: firestore.Client

    def invoice_page(
        self, account_id: str, limit: int, after: Cursor | None
    ) -> list[tuple[str, Invoice]]:
        query = (
            self.db.collection(INVOICES)
            .where(filter=firestore.FieldFilter("account_id", "==", account_id))
            .order_by("issued_at", direction=firestore.Query.DESCENDING)
            .order_by("__name__", direction=firestore.Query.DESCENDING)
        )
        if after is not None:
            query = query.start_after({"issued_at": after.issued_at, "__name__": after.doc_id})
        return [
            (snap.id, Invoice.from_dict(snap.to_dict() or {}))
            for snap in query.limit(limit).stream()
        ]

    def invoice_by_number(self, account_id: str, number: str) -> Invoice | None:
        query = (
            self.db.collection(INVOICES)
            .where(filter=firestore.FieldFilter("account_id", "==", account_id))
            .where(filter=firestore.FieldFilter("number", "==", number))
            .limit(1)
        )
        for snap in query.stream():
            return Invoice.from_dict(snap.to_dict() or {})
        return None

    def customer(self, account_id: str) -> dict[str, Any] | None:
        snap = keyed(self.db, CUSTOMERS, account_id).get()
        return (snap.to_dict() or {}) if snap.exists else None

    def subscriptions(self, account_id: str) -> list[Subscription]:
        return FirestoreAccounts(self.db).subscriptions(account_id)

    def history(self, subscription_id: str) -> list[LedgerRecord]:
        query = ledger_entries(self.db, subscription_id, MAX_HISTORY)
        records = []
        for snap in query.stream():
            doc = snap.to_dict() or {}
            records.append(LedgerRecord(
                input_type=doc.get("input_type"), status=doc.get("status"),
                at=_time(doc.get("created_at")), events=ledger_events(doc.get("events") or []),
            ))  # fmt: skip
        return records

    def sends(self, notice_ids: Iterable[str]) -> list[SendRecord]:
        ids = list(dict.fromkeys(notice_ids))
        found: dict[str, SendRecord] = {}
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            by_ref = {keyed(self.db, RECEIPT_SENDS, i).id: i for i in chunk}
            refs = [keyed(self.db, RECEIPT_SENDS, i) for i in chunk]
            for snap in self.db.get_all(refs):
                if not snap.exists:
                    continue
                doc = snap.to_dict() or {}
                notice_id = by_ref[snap.id]
                found[notice_id] = SendRecord(
                    notice_id=notice_id, kind=str(doc.get("kind") or "-"),
                    status=str(doc.get("status") or "-"), sent_at=_time(doc.get("sent_at")),
                    message_id=doc.get("message_id") if doc.get("status") == "sent" else None,
                )  # fmt: skip
        return [found[i] for i in ids if i in found]
