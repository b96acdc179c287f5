"""Invoices, credit notes and receipt e-mails (pure: no Google or AWS import).

model: the documents; builder: drafts from domain events; numbering: series
and ids (and the legal assumption behind several series per entity);
i18n/messages/render/pdf/mime: localized e-mail and PDF; sending: the send
lease; receipts: the service the ``receipt_email`` function calls.
"""

from typing import TYPE_CHECKING, Any

from refrain.invoicing.builder import build_credit_note, build_invoice
from refrain.invoicing.errors import (
    CustomerNotFound,
    InvoicingError,
    OriginalInvoiceMissing,
    RetryLater,
    SendInProgress,
)
from refrain.invoicing.model import DocumentKind, Invoice, InvoiceLine, Seller, VatLine
from refrain.invoicing.ports import Customer

if TYPE_CHECKING:
    from refrain.invoicing.receipts import HandleResult, ReceiptConfig, ReceiptService

_RECEIPTS = frozenset({"HandleResult", "ReceiptConfig", "ReceiptService"})


def __getattr__(name: str) -> Any:
    """The receipt service on first use: it loads the PDF renderer (fpdf, ~0.3 s), which
    the tax breakdown and previews (account_api, care) never need."""
    if name in _RECEIPTS:
        from refrain.invoicing import receipts

        return getattr(receipts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Customer",
    "CustomerNotFound",
    "DocumentKind",
    "HandleResult",
    "Invoice",
    "InvoiceLine",
    "InvoicingError",
    "OriginalInvoiceMissing",
    "ReceiptConfig",
    "ReceiptService",
    "RetryLater",
    "Seller",
    "SendInProgress",
    "VatLine",
    "build_credit_note",
    "build_invoice",
]
