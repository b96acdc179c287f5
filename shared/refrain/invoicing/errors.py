"""Why a receipt could not be produced (yet).

``Permanent`` errors will fail the same way on every delivery (bad data: an
unknown market, a currency that disagrees with the market); the function lets
them reach the dead-letter topic so an operator can replay after a fix.
``RetryLater`` errors are about timing (another worker holds the send lease,
the invoice a refund corrects is not there yet) and clear on redelivery.
"""

from __future__ import annotations

from refrain.domain.errors import DomainError


class InvoicingError(DomainError, ValueError):
    """Bad data for an invoice: it fails the same way on every delivery."""


class RetryLater(DomainError):
    """Nothing is wrong with the event; try again after the ack deadline."""


class CustomerNotFound(RetryLater):
    def __init__(self, account_id: str) -> None:
        # The account id is opaque (not personal data), so it may appear here.
        super().__init__(f"no usable customers/{account_id} document (an e-mail is needed)")
        self.account_id = account_id


class CustomerErased(DomainError):
    """The account's personal data was erased: nobody to mail, now or on redelivery."""


class OriginalInvoiceMissing(RetryLater):
    def __init__(self, invoice_id: str) -> None:
        super().__init__(f"credit note refers to invoice {invoice_id}, which is not finalised")
        self.invoice_id = invoice_id


class SendInProgress(RetryLater):
    def __init__(self, notice_id: str) -> None:
        super().__init__(f"another worker holds the send lease for {notice_id}")
        self.notice_id = notice_id
