"""Firestore side of invoicing: numbered invoices, customers, the send records.

Finalising is one transaction: read the invoice id (exists: return it, number
nothing), read the series counter, ``create()`` the numbered invoice and move
the counter. A number is therefore consumed only together with the invoice
that carries it, and a redelivered event can never take a second one. The
``create()`` precondition backs up the read: if two transactions ever both
saw "absent", the second commit fails instead of overwriting.

Transactions on a hot document abort under contention; the client library
retries them (keeping their place in line), and around that we retry with
jittered backoff a bounded number of times. Within one process (a Cloud
Functions instance serves concurrent requests) finalisations of the same
series also take a local lock first: they would only queue on the counter's
lock in Firestore anyway, and the emulator resolves such conflicts with a
2-second lock timeout per collision. Correctness never depends on the local
lock; across instances the transaction alone keeps numbers gapless.

Invoice, customer and send-record ids derive from provider ids and account ids,
so their document ids go through ``firestore_collections.keyed`` (invariant
11); a series counter's id is ours (catalog entity and series) and stays as it is.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from google.api_core.exceptions import Aborted, AlreadyExists, Conflict
from google.cloud import firestore

from refrain.adapters.firestore_collections import (
    CHARGES,
    CUSTOMERS,
    ERASURES,
    INVOICE_SERIES,
    INVOICES,
    RECEIPT_SENDS,
    keyed,
)
from refrain.invoicing.model import Invoice
from refrain.invoicing.numbering import allocate, invoice_id_for, series_doc_id
from refrain.invoicing.ports import Claim, Customer
from refrain.invoicing.sending import (
    DEFAULT_LEASE,
    ClaimKind,
    decide_claim,
    decide_record,
    decide_release,
)
from refrain.privacy.erasure import account_hash
from refrain.privacy.retention import SEND_RECORD_RETENTION, invoice_expire_at

__all__ = [
    "FirestoreCustomers",
    "FirestoreInvoiceStore",
    "FirestoreSendRecords",
    "TransactionContention",
    "run_transaction",
]

T = TypeVar("T")


class TransactionContention(RuntimeError):
    """A transaction kept aborting; the caller's delivery should be retried."""


def run_transaction(
    db: firestore.Client,
    body: Callable[[firestore.Transaction], T],
    *,
    attempts: int = 8,
    inner_attempts: int = 10,
) -> T:
    """Run ``body`` in a transaction, retrying contention aborts with backoff."""
    last: BaseException | None = None
    for attempt in range(attempts):
        try:
            return firestore.transactional(body)(db.transaction(max_attempts=inner_attempts))  # type: ignore[no-any-return]
        except (Aborted, Conflict) as exc:
            last = exc
        except ValueError as exc:  # the library's "failed to commit in N attempts"
            if not isinstance(exc.__cause__, Aborted):
                raise
            last = exc
        time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))  # noqa: S311 - jitter
    raise TransactionContention(f"transaction aborted {attempts} times: {last}") from last


_SERIES_LOCKS: dict[str, threading.Lock] = {}
_REGISTRY_LOCK = threading.Lock()


def _series_lock(key: str) -> threading.Lock:
    with _REGISTRY_LOCK:
        return _SERIES_LOCKS.setdefault(key, threading.Lock())


class FirestoreInvoiceStore:
    def __init__(self, db: firestore.Client, *, local_lock: bool = True) -> None:
        self._db = db
        self._local_lock = local_lock

    def get(self, invoice_id: str) -> Invoice | None:
        snap = keyed(self._db, INVOICES, invoice_id).get()
        return Invoice.from_dict(snap.to_dict() or {}) if snap.exists else None

    def paid_with(self, provider_ref: str) -> Invoice | None:
        # The charge record keeps the provider's references to its payment (firestore_charges).
        query = (
            self._db.collection(CHARGES)
            .where(filter=firestore.FieldFilter("provider_refs", "array_contains", provider_ref))
            .limit(1)
        )
        for charge in query.stream():
            charge_id = (charge.to_dict() or {}).get("charge_id")
            return self.get(invoice_id_for(str(charge_id), "")) if charge_id else None
        return None

    def finalise(self, draft: Invoice) -> Invoice:
        if not draft.is_draft:
            raise ValueError(f"{draft.invoice_id} is already numbered")
        invoice_ref = keyed(self._db, INVOICES, draft.invoice_id)
        series_ref = self._db.collection(INVOICE_SERIES).document(
            series_doc_id(draft.seller.entity_id, draft.series)
        )

        def body(tx: firestore.Transaction) -> Invoice:
            existing = invoice_ref.get(transaction=tx)
            if existing.exists:
                return Invoice.from_dict(existing.to_dict() or {})
            counter = series_ref.get(transaction=tx)
            state: dict[str, Any] = (counter.to_dict() or {}) if counter.exists else {}
            invoice = allocate(draft, int(state.get("last", 0)), state.get("last_issued_at"))
            expire_at = invoice_expire_at(invoice.seller.country, invoice.issued_at)
            tx.create(invoice_ref, {**invoice.to_dict(), "expire_at": expire_at})
            tx.set(
                series_ref,
                {
                    "entity_id": draft.seller.entity_id,
                    "series": draft.series,
                    "last": invoice.sequence,
                    "last_invoice_id": invoice.invoice_id,
                    "last_issued_at": invoice.issued_at,
                },
            )
            return invoice

        try:
            if not self._local_lock:
                return run_transaction(self._db, body)
            with _series_lock(f"{self._db.project}/{series_ref.id}"):
                return run_transaction(self._db, body)
        except AlreadyExists:
            # Only if a concurrent finaliser won between our read and commit.
            stored = self.get(draft.invoice_id)
            if stored is None:
                raise
            return stored

    def series_numbers(self, entity_id: str, series: str) -> list[int]:
        """Every sequence issued in a series, sorted (for audits and tests)."""
        query = (
            self._db.collection(INVOICES)
            .where(filter=firestore.FieldFilter("seller.entity_id", "==", entity_id))
            .where(filter=firestore.FieldFilter("series", "==", series))
        )
        return sorted(int(doc.get("sequence")) for doc in query.stream())


class FirestoreCustomers:
    """``customers/{account_id}``: the only place e-mail and name live."""

    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def get(self, account_id: str) -> Customer | None:
        snap = keyed(self._db, CUSTOMERS, account_id).get()
        if not snap.exists:
            return None
        data = snap.to_dict() or {}
        email = data.get("email")
        if not isinstance(email, str) or "@" not in email:
            return None
        name, locale, market = data.get("name"), data.get("locale"), data.get("market")
        return Customer(
            account_id=account_id,
            email=email,
            name=name if isinstance(name, str) and name.strip() else None,
            locale=locale if isinstance(locale, str) else None,
            market=market if isinstance(market, str) else None,
        )

    def erased(self, account_id: str) -> bool:
        """An account whose erasure is recorded (one read, only when the profile is
        missing: an event published before the erasure still names the account id)."""
        return self._db.collection(ERASURES).document(account_hash(account_id)).get().exists


class FirestoreSendRecords:
    """``receipt_sends/{notice_id}``: the lease and the SES message id."""

    def __init__(
        self, db: firestore.Client, lease_s: float = DEFAULT_LEASE.total_seconds()
    ) -> None:
        self._db = db
        self._lease = timedelta(seconds=lease_s)

    def _ref(self, notice_id: str) -> Any:
        return keyed(self._db, RECEIPT_SENDS, notice_id)

    def claim(self, notice_id: str, *, document_id: str, kind: str, now: datetime) -> Claim:
        ref = self._ref(notice_id)
        owner = uuid.uuid4().hex

        def body(tx: firestore.Transaction) -> ClaimKind:
            snap = ref.get(transaction=tx)
            decision = decide_claim(
                snap.to_dict() if snap.exists else None,
                owner=owner,
                now=now,
                lease=self._lease,
                document_id=document_id,
                kind=kind,
            )
            if decision.write is not None:
                expire_at = now + SEND_RECORD_RETENTION
                tx.set(ref, {**decision.write, "expire_at": expire_at}, merge=True)
            return decision.kind

        return Claim(run_transaction(self._db, body), owner)

    def record(self, notice_id: str, *, owner: str, message_id: str, now: datetime) -> None:
        ref = self._ref(notice_id)

        def body(tx: firestore.Transaction) -> None:
            snap = ref.get(transaction=tx)
            update = decide_record(
                snap.to_dict() if snap.exists else None, owner=owner, message_id=message_id, now=now
            )
            if update is not None:
                tx.set(ref, update, merge=True)

        run_transaction(self._db, body)

    def release(self, notice_id: str, *, owner: str) -> None:
        ref = self._ref(notice_id)

        def body(tx: firestore.Transaction) -> None:
            snap = ref.get(transaction=tx)
            update = decide_release(snap.to_dict() if snap.exists else None, owner=owner)
            if update is not None:
                tx.set(ref, update, merge=True)

        run_transaction(self._db, body)
