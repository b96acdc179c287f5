"""The subscriber's documents: invoices and credit notes (listed, as PDF) and the data export.

* ``invoices``: one query (``invoices.account_id ==``, newest ``issued_at`` first, the
  document id breaking ties; a composite index in refrain_tools.infra.firestore_spec),
  ``page_size + 1`` documents to know whether there is a next page. The page token is
  opaque to clients: the last document's ``issued_at`` and id, base64url. It only
  positions a cursor inside the caller's own query, so a token made for (or by)
  another account shows nothing of theirs; a token that does not decode is a 400.
* ``pdf``: the stored invoice found by ``account_id`` and ``number`` together (an
  unknown number and another account's are the same 404), rendered on request with
  the locale it was issued in (refrain.invoicing.pdf), as the e-mailed copy was.
* ``export`` (GDPR art. 15 and 20): the customer profile, each subscription as stored
  with its ledger history (input type, status, time, events produced), every invoice
  and credit note, and the e-mails sent (the send records of the account's documents
  and notices: kind, status, time, message id; no bodies are kept anywhere).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Protocol

from refrain.account import problems as p
from refrain.account.models import (
    DataExportOut,
    EmailOut,
    InvoiceOut,
    InvoicePage,
    LedgerEntryOut,
    MoneyOut,
    SubscriptionRecordOut,
)
from refrain.account.problems import Problem
from refrain.domain.clock import Clock
from refrain.domain.subscription import Subscription
from refrain.invoicing.i18n import localizer_for
from refrain.invoicing.model import Invoice
from refrain.invoicing.numbering import document_id as notice_document_id

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_EXPORTED_INVOICES = 2000  # decades of monthly receipts and their credit notes
_NUMBER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,600}$")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the last invoice's issue time and document id."""

    issued_at: datetime
    doc_id: str

    def token(self) -> str:
        raw = json.dumps({"t": self.issued_at.isoformat(), "d": self.doc_id}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()

    @classmethod
    def parse(cls, token: str) -> Cursor:
        """The cursor a token names; :class:`ValueError` for anything else."""
        if not _TOKEN.match(token):
            raise ValueError("not a page token")
        try:
            doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            issued_at, doc_id = datetime.fromisoformat(doc["t"]), doc["d"]
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            raise ValueError("not a page token") from None
        if not isinstance(doc_id, str) or not doc_id or issued_at.tzinfo is None:
            raise ValueError("not a page token")
        return cls(issued_at, doc_id)


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    input_type: str | None
    status: str | None
    at: datetime | None
    events: tuple[tuple[str, str], ...]  # (event type, event id)


@dataclass(frozen=True, slots=True)
class SendRecord:
    notice_id: str
    kind: str
    status: str
    sent_at: datetime | None
    message_id: str | None


class DocumentStore(Protocol):
    def invoice_page(
        self, account_id: str, limit: int, after: Cursor | None
    ) -> list[tuple[str, Invoice]]:
        """Up to ``limit`` (document id, invoice), newest first, after the cursor."""
        ...

    def invoice_by_number(self, account_id: str, number: str) -> Invoice | None: ...

    def customer(self, account_id: str) -> dict[str, Any] | None: ...

    def subscriptions(self, account_id: str) -> list[Subscription]: ...

    def history(self, subscription_id: str) -> list[LedgerRecord]: ...

    def sends(self, notice_ids: Iterable[str]) -> list[SendRecord]: ...


def invoice_out(invoice: Invoice) -> InvoiceOut:
    def money(value: Any) -> MoneyOut:
        out = MoneyOut.of(value)
        assert out is not None
        return out

    return InvoiceOut(
        number=invoice.number, kind=invoice.kind.value, issued_at=invoice.issued_at,
        subscription_id=invoice.subscription_id, currency=invoice.currency,
        net=money(invoice.net_total), tax=money(invoice.tax_total),
        gross=money(invoice.gross_total), original_number=invoice.original_number,
        pdf=f"/v1/me/invoices/{invoice.number}.pdf",
    )  # fmt: skip


def page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise Problem(p.BAD_REQUEST, f"page_size: a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def json_safe(value: Any) -> Any:
    """A stored document as JSON: timestamps as ISO 8601, enums as their values."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclass
class AccountDocuments:
    store: DocumentStore
    clock: Clock
    market_locale: Callable[[str], str] = field(default=lambda market: "en")

    def invoices(self, account_id: str, token: str | None, size: str | None) -> InvoicePage:
        limit = page_size(size)
        try:
            after = Cursor.parse(token) if token else None
        except ValueError as exc:
            raise Problem(p.BAD_REQUEST, "page_token: not a token this API gave") from exc
        found = self.store.invoice_page(account_id, limit + 1, after)
        shown = found[:limit]
        more = len(found) > limit and bool(shown)
        last_id, last = shown[-1] if shown else ("", None)
        following = Cursor(last.issued_at, last_id).token() if more and last else None
        return InvoicePage(
            invoices=[invoice_out(inv) for _, inv in shown], next_page_token=following
        )

    def pdf(self, account_id: str, number: str) -> tuple[str, bytes]:
        """The file name and the PDF of the account's document with this number."""
        known = _NUMBER.match(number) is not None
        invoice = self.store.invoice_by_number(account_id, number) if known else None
        if invoice is None or invoice.account_id != account_id:
            raise Problem(p.NOT_FOUND, "No such invoice")
        from refrain.invoicing.pdf import render_pdf  # fpdf: only when a PDF is asked for

        loc = localizer_for(invoice.locale, self.market_locale(invoice.market))
        return f"{invoice.number}.pdf", render_pdf(invoice, loc)

    def export(self, account_id: str) -> DataExportOut:
        subs = sorted(self.store.subscriptions(account_id), key=lambda s: s.created_at)
        records, notices = [], []
        for sub in subs:
            history = self.store.history(sub.subscription_id)
            notices += [notice_document_id("notice", eid) for h in history for _, eid in h.events]
            records.append(SubscriptionRecordOut(
                subscription_id=sub.subscription_id, state=json_safe(sub.to_dict()),
                history=[LedgerEntryOut(type=h.input_type, status=h.status, at=h.at,
                                        events=[t for t, _ in h.events]) for h in history],
            ))  # fmt: skip
        invoices: list[Invoice] = []
        after: Cursor | None = None
        while len(invoices) < MAX_EXPORTED_INVOICES:
            page = self.store.invoice_page(account_id, MAX_PAGE_SIZE, after)
            invoices += [inv for _, inv in page]
            if len(page) < MAX_PAGE_SIZE:
                break
            after = Cursor(page[-1][1].issued_at, page[-1][0])
        numbers = {inv.invoice_id: inv.number for inv in invoices}
        sends = self.store.sends([*numbers, *notices])
        customer = self.store.customer(account_id)
        return DataExportOut(
            account_id=account_id, exported_at=self.clock.now(),
            customer=None if customer is None else json_safe(customer),
            subscriptions=records, invoices=[invoice_out(inv) for inv in invoices],
            emails=[EmailOut(kind=s.kind, status=s.status, document=numbers.get(s.notice_id),
                             sent_at=s.sent_at, message_id=s.message_id) for s in sends],
        )  # fmt: skip
