"""What the receipt service needs from the outside world, as small protocols.

Firestore and SES implement them in ``refrain.adapters`` (firestore_invoices,
ses_raw); unit tests use in-memory fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from refrain.invoicing.model import Invoice
from refrain.invoicing.sending import ClaimKind

__all__ = ["Claim", "Customer", "CustomerDirectory", "InvoiceStore", "RawMailer", "SendRecords"]


@dataclass(frozen=True)
class Customer:
    """Personal data: never logged, never copied onto another document."""

    account_id: str
    email: str
    name: str | None
    locale: str | None
    market: str | None

    def __repr__(self) -> str:  # keeps the address out of tracebacks and logs
        return f"Customer(account_id={self.account_id!r}, email=<redacted>)"


class CustomerDirectory(Protocol):
    def get(self, account_id: str) -> Customer | None: ...

    def erased(self, account_id: str) -> bool:
        """The account's personal data was erased (refrain.privacy.erasure): no mail."""
        ...


class InvoiceStore(Protocol):
    def finalise(self, draft: Invoice) -> Invoice:
        """Store the draft with the next number of its series, in one transaction;
        if a document with its id exists, return that one and allocate nothing."""
        ...

    def get(self, invoice_id: str) -> Invoice | None: ...

    def paid_with(self, provider_ref: str) -> Invoice | None:
        """The invoice of the charge the provider knows as ``{provider}:{id}`` (a renewal's
        PaymentIntent, say), for the documents a dispute or refund names it by."""
        ...


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    owner: str


class SendRecords(Protocol):
    def claim(self, notice_id: str, *, document_id: str, kind: str, now: datetime) -> Claim: ...

    def record(self, notice_id: str, *, owner: str, message_id: str, now: datetime) -> None: ...

    def release(self, notice_id: str, *, owner: str) -> None: ...


class RawMailer(Protocol):
    def send_raw(self, *, sender: str, to: str, raw: bytes) -> str:
        """Hand one MIME message to the mail service; return its message id."""
        ...
