"""One domain event in, at most one customer e-mail out.

``invoice.paid`` finalises a numbered invoice and mails the receipt (PDF
attached), unless it is for zero (a free trial's start): that one is
``skipped``, with a reason, and numbers and mails nothing (the rule and why
are in :mod:`refrain.invoicing.builder`), so it is acked, never dead-lettered.
``charge.refunded`` and a lost ``charge.dispute_closed`` finalise a credit note
against the invoice of that charge; ``payment.failed``, ``subscription.on_hold``,
``subscription.expired``, ``subscription.plan_change_declined`` (an upgrade whose
charge was declined) and ``subscription.price_change_scheduled`` (the price-change
notice: both prices, the first renewal at the new one, and whether the subscriber must
agree) mail a notice; the plan named in the declined-upgrade one is the upgrade's. Every
other type is ignored, and so is every event of an app-store subscription (Google Play,
Apple): the store is merchant of record, sends the receipts and the billing notices
itself, and we hold no e-mail address for its customers (nothing would ever be sent, and
the event would be redelivered until it dead-letters).

Exactly one e-mail per document, whatever Pub/Sub delivers:

1. The document id is deterministic (charge id or event id), and the invoice
   is created with a ``create()`` precondition in the transaction that takes
   its number, so a redelivery finds the stored invoice and numbers nothing.
2. Before sending, a worker claims ``receipt_sends/{notice_id}`` in a
   transaction: a lease (2 minutes) naming it the owner. A record already
   ``sent`` means ack and send nothing; a live lease held by someone else
   means raise :class:`SendInProgress` so Pub/Sub redelivers later (by then
   the holder has sent, and the redelivery acks).
3. After SES accepts, the owner records SES's message id (``sent``). If SES
   refuses, the owner releases the lease and raises, and the redelivery
   sends.

The one window left: a worker that dies after SES accepted the message but
before its ``sent`` record commits leaves a ``sending`` lease behind; once it
expires a redelivery claims it and sends a second e-mail. SES offers no
idempotency key to close this; the lease keeps it to crashes in that
sub-second gap, and the duplicate is the same document with the same number.

The customer's e-mail address is read from ``customers/{account_id}`` at
send time and goes nowhere else: not onto the invoice, not into a log line.

An erased account (refrain.privacy.erasure; the profile is gone and the directory says
so): its invoices and credit notes are still numbered and stored (the law wants them),
under an erasure alias, and ``skipped`` (not mailed); its notices are ``skipped``. Both
are acked, never retried into the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from refrain.domain.catalog import Catalog
from refrain.domain.clock import Clock, SystemClock
from refrain.domain.events import (
    ChargeDisputeClosedPayload,
    ChargeRefundedPayload,
    DomainEvent,
    EventType,
    ExpiredPayload,
    InvoicePaidPayload,
    PaymentFailedPayload,
    PlanChangeDeclinedPayload,
    PriceChangeScheduledPayload,
)
from refrain.domain.money import Money
from refrain.invoicing.builder import build_credit_note, build_invoice, nothing_to_invoice
from refrain.invoicing.errors import (
    CustomerErased,
    CustomerNotFound,
    OriginalInvoiceMissing,
    SendInProgress,
)
from refrain.invoicing.i18n import localizer_for
from refrain.invoicing.mime import Attachment, build_mime
from refrain.invoicing.model import DocumentKind, Invoice
from refrain.invoicing.numbering import DEFAULT_SHARDS, document_id, invoice_id_for
from refrain.invoicing.pdf import render_pdf
from refrain.invoicing.ports import (
    Customer,
    CustomerDirectory,
    InvoiceStore,
    RawMailer,
    SendRecords,
)
from refrain.invoicing.render import (
    RenderedMail,
    notice_view,
    plan_text,
    render_notice,
    render_receipt,
)
from refrain.invoicing.sending import ClaimKind
from refrain.privacy.erasure import ALIAS_PREFIX, new_alias

__all__ = ["HandleResult", "ReceiptConfig", "ReceiptService"]

_NOTICES = {
    EventType.PAYMENT_FAILED: "payment_failed",
    EventType.ON_HOLD: "on_hold",
    EventType.EXPIRED: "expired",
    EventType.PLAN_CHANGE_DECLINED: "upgrade_declined",
    EventType.PRICE_CHANGE_SCHEDULED: "price_change",
}

_ACTION_PATHS = {"expired": "", "price_change": "subscription"}  # else /payment-method

# Providers that are merchant of record: they mail their customers, we never do.
STORE_PROVIDERS = frozenset({"google_play", "apple"})
ERASED = "the account's personal data was erased (docs/PRIVACY.md): nobody to mail"


@dataclass(frozen=True)
class ReceiptConfig:
    sender: str
    account_url: str
    sender_name: str = "Refrain"
    shards: int = DEFAULT_SHARDS
    attach_pdf: bool = True


@dataclass(frozen=True)
class HandleResult:
    outcome: str  # sent | already_sent | skipped (erased account) | ignored
    kind: str  # receipt | credit_note | payment_failed | on_hold | expired | -
    notice_id: str | None = None
    invoice_id: str | None = None
    number: str | None = None
    message_id: str | None = None
    reason: str | None = None  # why it was skipped


class ReceiptService:
    def __init__(
        self,
        *,
        catalog: Catalog,
        invoices: InvoiceStore,
        customers: CustomerDirectory,
        sends: SendRecords,
        mailer: RawMailer,
        config: ReceiptConfig,
        clock: Clock | None = None,
        crash_after_send: Callable[[str], None] | None = None,
    ) -> None:
        self._catalog = catalog
        self._invoices = invoices
        self._customers = customers
        self._sends = sends
        self._mailer = mailer
        self._config = config
        self._clock = clock or SystemClock()
        # Test-only fault injection (constructor argument, never configuration): called
        # with the notice id after SES accepted and before the `sent` record, to stand
        # for the process dying in that gap (the lease is deliberately not released).
        self._crash_after_send = crash_after_send

    def handle(self, event: DomainEvent) -> HandleResult:
        try:
            return self._handle(event)
        except CustomerErased:
            return HandleResult("skipped", "-", reason=ERASED)

    def _handle(self, event: DomainEvent) -> HandleResult:
        if event.typed_payload().provider in STORE_PROVIDERS:
            reason = "the app store is merchant of record and mails its customers"
            return HandleResult("ignored", "-", reason=reason)
        if event.type is EventType.INVOICE_PAID:
            return self._receipt(event)
        if event.type is EventType.CHARGE_REFUNDED:
            return self._credit_note(event)
        if event.type is EventType.CHARGE_DISPUTE_CLOSED:
            if event.payload["won"]:
                return HandleResult(
                    "ignored", "-", reason="a won dispute moved no money to correct"
                )
            return self._credit_note(event)  # lost: the money went back to the cardholder
        if event.type in _NOTICES:
            return self._notice(event, _NOTICES[event.type])
        return HandleResult("ignored", "-")

    # documents --------------------------------------------------------------
    def _receipt(self, event: DomainEvent) -> HandleResult:
        payload = event.typed_payload()
        assert isinstance(payload, InvoicePaidPayload)
        market = self._catalog.market(payload.market)  # UnknownMarket before any I/O
        skipped = nothing_to_invoice(payload)
        if skipped is not None:
            return HandleResult("skipped", "receipt", reason=skipped)
        customer = self._addressee(payload.account_id)
        loc = localizer_for(customer.locale if customer else None, market.default_locale)
        draft = build_invoice(event, self._catalog, loc.locale, self._config.shards)
        return self._deliver(self._finalise(draft, customer), customer, market.default_locale)

    def _credit_note(self, event: DomainEvent) -> HandleResult:
        payload = event.typed_payload()
        assert isinstance(payload, ChargeRefundedPayload | ChargeDisputeClosedPayload)
        market = self._catalog.market(payload.market)
        customer = self._addressee(payload.account_id)
        original_id = invoice_id_for(payload.charge_id, event.event_id)
        original = self._invoices.get(original_id)
        if original is None:  # named by the provider's payment id (a renewal's dispute)
            original = self._invoices.paid_with(f"{payload.provider}:{payload.charge_id}")
        if original is None:
            raise OriginalInvoiceMissing(original_id)
        loc = localizer_for(customer.locale if customer else None, market.default_locale)
        note = self._finalise(build_credit_note(event, original, loc.locale), customer)
        return self._deliver(note, customer, market.default_locale)

    def _finalise(self, draft: Invoice, customer: Customer | None) -> Invoice:
        """Numbered and stored, mailed or not: the law wants the document either way. For
        an erased account it names a fresh alias, never an account id it may still carry
        (an event published before the erasure)."""
        if customer is None and not draft.account_id.startswith(ALIAS_PREFIX):
            draft = replace(draft, account_id=new_alias())
        return self._invoices.finalise(draft)

    def _deliver(
        self, invoice: Invoice, customer: Customer | None, default_locale: str
    ) -> HandleResult:
        # The stored locale wins: a redelivery renders the document as first issued.
        loc = localizer_for(invoice.locale, default_locale)
        kind = "receipt" if invoice.kind is DocumentKind.INVOICE else "credit_note"
        if customer is None:
            return HandleResult(
                "skipped", kind, notice_id=invoice.invoice_id, invoice_id=invoice.invoice_id,
                number=invoice.number, reason=ERASED,
            )  # fmt: skip

        def compose() -> bytes:
            mail = render_receipt(invoice, loc, customer.name)
            attachments: tuple[Attachment, ...] = ()
            if self._config.attach_pdf:
                attachments = (Attachment(f"{invoice.number}.pdf", render_pdf(invoice, loc)),)
            return self._mime(customer, mail, attachments, invoice.invoice_id)

        result = self._send_once(invoice.invoice_id, kind, invoice.invoice_id, customer, compose)
        return HandleResult(
            result.outcome,
            kind,
            notice_id=invoice.invoice_id,
            invoice_id=invoice.invoice_id,
            number=invoice.number,
            message_id=result.message_id,
        )

    # notices ---------------------------------------------------------------
    def _notice(self, event: DomainEvent, kind: str) -> HandleResult:
        payload = event.typed_payload()
        market = self._catalog.market(payload.market)
        named = payload.to_plan if isinstance(payload, PlanChangeDeclinedPayload) else payload.plan
        plan = self._catalog.plan(named)
        entity = self._catalog.legal_entities[market.legal_entity]
        customer = self._customer(payload.account_id)
        loc = localizer_for(customer.locale, market.default_locale)
        base = self._config.account_url.rstrip("/")
        amount: Money | None = None
        retry_at: datetime | None = None
        ended_at: datetime | None = None
        involuntary = False
        if isinstance(payload, PaymentFailedPayload):
            amount = Money(payload.amount, payload.currency)
            retry_at = None if payload.hard_decline else payload.next_retry_at
        if isinstance(payload, PlanChangeDeclinedPayload):
            amount = Money(payload.amount, payload.currency)
        if isinstance(payload, ExpiredPayload):
            ended_at = payload.ended_at
            involuntary = payload.churn_type == "involuntary"
        price = payload if isinstance(payload, PriceChangeScheduledPayload) else None
        if price is not None:
            amount = Money(price.amount, price.currency)
        view = notice_view(
            kind,
            loc,
            name=customer.name,
            plan=plan_text(loc, plan.tier, plan.interval.value),
            action_url=f"{base}/{_ACTION_PATHS.get(kind, 'payment-method')}",
            seller_name=entity.legal_name,
            amount=amount,
            retry_at=retry_at,
            ended_at=ended_at,
            involuntary=involuntary,
            old_amount=Money(price.old_amount, price.currency) if price else None,
            applies_at=price.applies_from if price else None,
            consent_required=bool(price and price.consent_required and not price.consented),
        )
        notice_id = document_id("notice", event.event_id)

        def compose() -> bytes:
            return self._mime(customer, render_notice(view), (), notice_id)

        result = self._send_once(notice_id, kind, event.event_id, customer, compose)
        return HandleResult(result.outcome, kind, notice_id=notice_id, message_id=result.message_id)

    # plumbing --------------------------------------------------------------
    def _customer(self, account_id: str) -> Customer:
        customer = self._addressee(account_id)
        if customer is None:
            raise CustomerErased
        return customer

    def _addressee(self, account_id: str) -> Customer | None:
        """The profile; None when the account was erased (nobody to mail, ever)."""
        if account_id.startswith(ALIAS_PREFIX):  # an event made after the erasure
            return None
        customer = self._customers.get(account_id)
        if customer is None and not self._customers.erased(account_id):
            raise CustomerNotFound(account_id)
        return customer

    def _mime(
        self, customer: Customer, mail: RenderedMail, attachments: tuple[Attachment, ...], ref: str
    ) -> bytes:
        return build_mime(
            sender=self._config.sender,
            sender_name=self._config.sender_name,
            to=customer.email,
            mail=mail,
            attachments=attachments,
            headers={"X-Refrain-Notice": ref},
        )

    def _send_once(
        self,
        notice_id: str,
        kind: str,
        source_id: str,
        customer: Customer,
        compose: Callable[[], bytes],
    ) -> HandleResult:
        claim = self._sends.claim(
            notice_id, document_id=source_id, kind=kind, now=self._clock.now()
        )
        if claim.kind is ClaimKind.ALREADY_SENT:
            return HandleResult("already_sent", kind, notice_id=notice_id)
        if claim.kind is ClaimKind.BUSY:
            raise SendInProgress(notice_id)
        try:
            raw = compose()
            message_id = self._mailer.send_raw(
                sender=self._config.sender, to=customer.email, raw=raw
            )
        except BaseException:
            self._sends.release(notice_id, owner=claim.owner)
            raise
        if self._crash_after_send is not None:
            self._crash_after_send(notice_id)
        self._sends.record(
            notice_id, owner=claim.owner, message_id=message_id, now=self._clock.now()
        )
        return HandleResult("sent", kind, notice_id=notice_id, message_id=message_id)
