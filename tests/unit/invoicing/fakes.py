"""In-memory stand-ins for the receipt service's ports (unit tests only)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from refrain.invoicing.model import Invoice
from refrain.invoicing.numbering import allocate, series_doc_id
from refrain.invoicing.ports import Claim, Customer
from refrain.invoicing.sending import decide_claim, decide_record, decide_release


class MemoryInvoices:
    def __init__(self) -> None:
        self.docs: dict[str, Invoice] = {}
        self.counters: dict[str, tuple[int, datetime]] = {}
        self.payments: dict[str, str] = {}  # provider ref -> invoice id

    def get(self, invoice_id: str) -> Invoice | None:
        return self.docs.get(invoice_id)

    def paid_with(self, provider_ref: str) -> Invoice | None:
        found = self.payments.get(provider_ref)
        return None if found is None else self.docs.get(found)

    def finalise(self, draft: Invoice) -> Invoice:
        if draft.invoice_id in self.docs:
            return self.docs[draft.invoice_id]
        key = series_doc_id(draft.seller.entity_id, draft.series)
        last, last_at = self.counters.get(key, (0, None))
        invoice = allocate(draft, last, last_at)
        self.docs[invoice.invoice_id] = invoice
        self.counters[key] = (invoice.sequence or 0, invoice.issued_at)
        return invoice


class MemoryCustomers:
    def __init__(self, *customers: Customer) -> None:
        self.by_id = {c.account_id: c for c in customers}
        self.erased_ids: set[str] = set()

    def get(self, account_id: str) -> Customer | None:
        return self.by_id.get(account_id)

    def erased(self, account_id: str) -> bool:
        return account_id in self.erased_ids


class MemorySendRecords:
    def __init__(self, lease: timedelta = timedelta(minutes=2)) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.lease = lease

    def claim(self, notice_id: str, *, document_id: str, kind: str, now: datetime) -> Claim:
        owner = uuid.uuid4().hex
        decision = decide_claim(
            self.records.get(notice_id),
            owner=owner,
            now=now,
            lease=self.lease,
            document_id=document_id,
            kind=kind,
        )
        if decision.write is not None:
            self.records[notice_id] = {**self.records.get(notice_id, {}), **decision.write}
        return Claim(decision.kind, owner)

    def record(self, notice_id: str, *, owner: str, message_id: str, now: datetime) -> None:
        update = decide_record(
            self.records.get(notice_id), owner=owner, message_id=message_id, now=now
        )
        if update is not None:
            self.records[notice_id] = {**self.records.get(notice_id, {}), **update}

    def release(self, notice_id: str, *, owner: str) -> None:
        update = decide_release(self.records.get(notice_id), owner=owner)
        if update is not None:
            self.records[notice_id] = {**self.records[notice_id], **update}


class MemoryMailer:
    def __init__(self, failures: int = 0) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.failures = failures

    def send_raw(self, *, sender: str, to: str, raw: bytes) -> str:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SES is unreachable")
        self.sent.append((to, raw))
        return f"msg-{len(self.sent)}"


def customer(
    account_id: str = "acct_1", locale: str | None = "sv_SE", name: str | None = "Kim"
) -> Customer:
    return Customer(account_id, f"{account_id}@example.com", name, locale, "SE")


__all__ = [
    "MemoryCustomers",
    "MemoryInvoices",
    "MemoryMailer",
    "MemorySendRecords",
    "customer",
    "replace",
]
