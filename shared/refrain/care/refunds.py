"""Operator refunds: reserved, sent to the gateway that took the payment, credited once.

``refrain refunds create INVOICE_OR_SUBSCRIPTION [--amount] --reason`` comes here:

1. **Find the payment**: the invoice (or the subscription's latest paid one), the
   provider that took it and the provider's own payment reference.
2. **Reserve** the amount in the payment's refund tally, in one transaction that
   refuses more than paid minus credited minus other refunds in flight
   (refrain.domain.refunds). The request id is the idempotency key: the same id
   again is the same refund.
3. **Refund through the gateway** with ``refund:{request id}`` as the provider's
   idempotency key (Stripe Refunds API, Adyen ``/payments/{psp}/refunds``): a retry
   after a timeout gets the provider's stored answer, never a second refund.
4. **Credit** through the ledger: a refund the gateway confirmed (Stripe) is applied
   as ``RefundIssued`` with its refund id and the payment's refunded total, so the
   provider's own ``charge.refunded`` finds it credited; one the provider confirms
   later (Adyen answers ``received``) is marked submitted, and its REFUND
   notification credits it. Either way: one ``charge.refunded`` domain event, whose
   receipt path numbers a credit note in the credit-note series and mails it, and
   whose churn transform records the signal.

A gateway that is unsure (timeout) leaves the reservation in place: the same
command again finishes it with the same key. A gateway that refuses releases it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from refrain.domain.clock import Clock
from refrain.domain.inputs import RefundIssued
from refrain.domain.money import Money
from refrain.domain.refunds import RefundRefused, RefundRequest, RequestStatus
from refrain.ledger import Ledger, LedgerCommand, LedgerStatus
from refrain.observability import Logger, get_logger
from refrain.outbox import OutboxPublisher
from refrain.renewals.gateway import (
    GatewayRouter,
    RefundAnswer,
    RefundCall,
    RefundDeclined,
    RefundGateway,
    RefundStatus,
)

__all__ = [
    "Payment",
    "RefundAnswer",
    "RefundBook",
    "RefundCall",
    "RefundDeclined",
    "RefundGateway",
    "RefundOrder",
    "RefundOutcome",
    "RefundRefused",
    "RefundService",
    "RefundStatus",
]

SOURCE = "care:refund"
STORES = ("apple", "google_play")


@dataclass(frozen=True, slots=True)
class Payment:
    """A paid invoice and the provider payment behind it."""

    subscription_id: str
    provider: str
    invoice_number: str
    charge_id: str  # as the invoice names it (its credit notes look it up by this)
    payment_ref: str  # as the provider names it (the tally and the gateway use this)
    paid: Money


class RefundBook(Protocol):
    def payment(self, target: str) -> Payment:
        """The invoice number's payment, or a subscription's latest paid invoice's."""
        ...

    def reserve(
        self, payment: Payment, request_id: str, *, amount: Money | None, reason: str, now: datetime
    ) -> RefundRequest:
        """Reserve in one transaction (RefundRefused when not allowed); the same id: its record."""
        ...

    def settle(self, payment: Payment, request_id: str, refund_id: str | None, ok: bool) -> None:
        """Record the gateway's answer to a reserved request (released when not ok)."""
        ...


@dataclass(frozen=True, slots=True)
class RefundOrder:
    target: str  # an invoice number or a subscription id
    reason: str
    request_id: str
    amount: Money | None = None  # None: all that is left
    revoke_access: bool = False


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    status: str  # credited | submitted | duplicate
    request_id: str
    invoice_number: str
    amount: Money
    refund_id: str | None = None
    outbox_id: str | None = None


@dataclass
class RefundService:
    book: RefundBook
    gateways: GatewayRouter
    ledger: Ledger
    publisher: OutboxPublisher
    clock: Clock
    log: Logger | None = None

    def refund(self, order: RefundOrder) -> RefundOutcome:
        log = self.log or get_logger("care")
        payment = self.book.payment(order.target)
        if payment.provider in STORES:
            raise RefundRefused(f"{payment.provider} refunds its own purchases; Refrain cannot")
        gateway = self.gateways.for_provider(payment.provider)
        if not isinstance(gateway, RefundGateway):
            raise RefundRefused(f"the {payment.provider} gateway cannot refund")
        now = self.clock.now()
        request = self.book.reserve(
            payment, order.request_id, amount=order.amount, reason=order.reason, now=now
        )
        amount = Money(request.amount, payment.paid.currency)
        if request.status not in (RequestStatus.RESERVED,):
            return RefundOutcome(
                "duplicate", request.request_id, payment.invoice_number, amount, request.refund_id
            )
        call = RefundCall(payment.payment_ref, amount, request.request_id, request.reason,
                          payment.charge_id, payment.subscription_id)  # fmt: skip
        try:
            answer = gateway.refund(call)  # GatewayUnavailable: stays reserved, run it again
        except RefundDeclined:
            self.book.settle(payment, request.request_id, None, ok=False)
            raise
        outcome = self._record(
            order=order, payment=payment, request=request, amount=amount, answer=answer, now=now
        )
        log.info(
            "refund",
            subscription_id=payment.subscription_id,
            invoice=payment.invoice_number,
            request_id=request.request_id,
            refund_id=answer.refund_id,
            amount=amount.amount,
            currency=amount.currency,
            outcome=outcome.status,
        )
        return outcome

    def _record(
        self,
        *,
        order: RefundOrder,
        payment: Payment,
        request: RefundRequest,
        amount: Money,
        answer: RefundAnswer,
        now: datetime,
    ) -> RefundOutcome:
        if answer.status is RefundStatus.PENDING:
            self.book.settle(payment, request.request_id, answer.refund_id, ok=True)
            return RefundOutcome(
                "submitted", request.request_id, payment.invoice_number, amount, answer.refund_id
            )
        key = f"refund:{request.request_id}"
        refund = RefundIssued(
            input_id=key, occurred_at=now, charge_id=payment.charge_id, amount=amount,
            reason=request.reason, revoke_access=order.revoke_access, refund_id=answer.refund_id,
            refunded_total=answer.refunded_total, payment_ref=payment.payment_ref,
            request_id=request.request_id,
        )  # fmt: skip
        result = self.ledger.apply(
            LedgerCommand(
                dedupe_key=key,
                subscription_id=payment.subscription_id,
                input=refund,
                now=now,
                source=SOURCE,
            )
        )
        self.publisher.announce(result.outbox_id, result.events)
        if result.status not in (LedgerStatus.APPLIED, LedgerStatus.IGNORED):
            # Refunded at the provider but not applicable here (e.g. a currency mismatch):
            # the outbox entry keeps the reason for an operator; say it loudly.
            raise RefundRefused(f"refunded at {payment.provider} but {result.reason}")
        return RefundOutcome(
            "credited",
            request.request_id,
            payment.invoice_number,
            amount,
            answer.refund_id,
            result.outbox_id,
        )
