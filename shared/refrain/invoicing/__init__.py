"""Invoices, credit notes and receipt e-mails (pure: no Google or AWS import).

model: the documents; builder: drafts from domain events; numbering: series
and ids (and the legal assumption behind several series per entity);
i18n/messages/render/pdf/mime: localized e-mail and PDF; sending: the send
lease; receipts: the service the ``receipt_email`` function calls.
"""

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
from refrain.invoicing.receipts import HandleResult, ReceiptConfig, ReceiptService

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
