"""Build invoice and credit-note drafts from domain events and the catalog.

Pure and deterministic: the same event gives the same draft, so a redelivery
can only ever find the document it would have created. Every catalog lookup
and check happens here, before anything is written, so bad data (an unknown
market, a currency that is not the market's) fails with nothing stored.

What the ``amount`` of ``invoice.paid`` means: what the customer paid, tax
included, in both tax modes. In a tax-inclusive market the tax is extracted
from it; in a tax-exclusive market we find the net whose tax-added gross is
exactly that amount (so the invoice shows the price the customer saw and tax
on top), falling back to extraction for the rare amounts no net maps to.
Rounding is :mod:`refrain.domain.tax`'s single rule either way.

A zero ``invoice.paid`` (a free trial's start, a 100 % discount; Stripe Billing
sends a $0 ``invoice.paid`` when a trial begins) gets no invoice: no number is
taken, no receipt is mailed, and the receipt service reports it ``skipped``
with :func:`nothing_to_invoice`'s reason. No money changed hands, so there is
no supply for consideration to invoice (VAT Directive art. 2 and 220), and a
series of $0 documents is only noise a finance team has to reconcile. The
first paid renewal gets the first invoice. A negative amount stays an error.
"""

from __future__ import annotations

from collections.abc import Iterable

from refrain.domain.catalog import Catalog
from refrain.domain.events import (
    ChargeDisputeClosedPayload,
    ChargeRefundedPayload,
    DomainEvent,
    EventType,
    InvoicePaidPayload,
)
from refrain.domain.money import Money, div_round_half_up
from refrain.domain.tax import TaxBreakdown, TaxMode, add_tax, extract_tax
from refrain.invoicing.errors import InvoicingError
from refrain.invoicing.model import DocumentKind, Invoice, InvoiceLine, Seller, VatLine
from refrain.invoicing.numbering import (
    credit_note_id_for,
    credit_note_series,
    invoice_id_for,
    series_for,
)

__all__ = [
    "breakdown_for_paid",
    "build_credit_note",
    "build_invoice",
    "nothing_to_invoice",
    "vat_lines",
]


def nothing_to_invoice(payload: InvoicePaidPayload) -> str | None:
    """Why an ``invoice.paid`` gets no invoice and no receipt (None: it gets both)."""
    if payload.amount == 0:
        return "zero amount (free trial or full discount): no invoice, no receipt"
    return None


def breakdown_for_paid(paid: Money, rate_bp: int, mode: TaxMode) -> TaxBreakdown:
    """Net, tax and gross for an amount the customer paid (tax included)."""
    extracted = extract_tax(paid, rate_bp)
    if mode is TaxMode.INCLUSIVE:
        return extracted
    for delta in (0, -1, 1, -2, 2):
        candidate = add_tax(Money(extracted.net.amount + delta, paid.currency), rate_bp)
        if candidate.gross == paid:
            return candidate
    return extracted


def provider_taxed(paid: Money, tax: Money) -> TaxBreakdown:
    """A charge with the provider's tax on top: net and tax as charged, exactly; the rate
    shown is the effective one in basis points (8.875 % shows as 8.88 %)."""
    if not 0 <= tax.amount <= paid.amount:
        raise InvoicingError(f"tax {tax} is not part of the amount paid {paid}")
    net = paid - tax
    rate = div_round_half_up(tax.amount * 10_000, net.amount) if net.amount else 0
    return TaxBreakdown(net=net, tax=tax, gross=paid, rate_bp=min(rate, 10_000))


def vat_lines(lines: Iterable[InvoiceLine], mode: TaxMode, currency: str) -> tuple[VatLine, ...]:
    """One VAT line per rate, tax computed once on each rate's total (tax.py's rule)."""
    by_rate: dict[int, Money] = {}
    for line in lines:
        by_rate[line.rate_bp] = by_rate.get(line.rate_bp, Money.zero(currency)) + line.amount
    result = []
    for rate, amount in sorted(by_rate.items()):
        b = extract_tax(amount, rate) if mode is TaxMode.INCLUSIVE else add_tax(amount, rate)
        result.append(VatLine(rate, b.net, b.tax, b.gross))
    return tuple(result)


def build_invoice(event: DomainEvent, catalog: Catalog, locale: str, shards: int) -> Invoice:
    """The unnumbered invoice for an ``invoice.paid`` event."""
    if event.type is not EventType.INVOICE_PAID:
        raise InvoicingError(f"cannot build an invoice from {event.type.value}")
    payload = event.typed_payload()
    assert isinstance(payload, InvoicePaidPayload)
    market = catalog.market(payload.market)  # UnknownMarket: clear, before any write
    plan = catalog.plan(payload.plan)
    entity = catalog.legal_entities[market.legal_entity]
    if payload.currency != market.currency:
        raise InvoicingError(
            f"invoice.paid in {payload.currency} but market {market.code} bills {market.currency}"
        )
    if payload.amount <= 0:  # zero: see nothing_to_invoice
        raise InvoicingError(f"invoice.paid amount must be positive, got {payload.amount}")
    paid = Money(payload.amount, payload.currency)
    if payload.tax is not None:  # added on top at checkout's rate (the provider's, by address)
        breakdown = provider_taxed(paid, Money(payload.tax, payload.currency))
    else:
        breakdown = breakdown_for_paid(paid, market.tax_rate_bp, market.tax_mode)
    stated = breakdown.gross if market.tax_mode is TaxMode.INCLUSIVE else breakdown.net
    line = InvoiceLine(
        plan=plan.id,
        tier=plan.tier,
        interval=plan.interval.value,
        period_start=payload.period_start,
        period_end=payload.period_end,
        amount=stated,
        rate_bp=breakdown.rate_bp,
    )
    return Invoice(
        invoice_id=invoice_id_for(payload.charge_id, event.event_id),
        kind=DocumentKind.INVOICE,
        seller=Seller(
            entity_id=entity.id,
            legal_name=entity.legal_name,
            address_lines=entity.address_lines,
            country=entity.country,
            vat_id=entity.vat_id,
            tax_registration=market.tax_registration,
        ),
        series=series_for(market.invoice_series, event.subscription_id, shards),
        market=market.code,
        currency=market.currency,
        locale=locale,
        tax_mode=market.tax_mode,
        tax_label=market.tax_label,
        account_id=payload.account_id,
        subscription_id=event.subscription_id,
        charge_id=payload.charge_id,
        event_id=event.event_id,
        issued_at=event.occurred_at,
        lines=(line,),
        vat=(VatLine(breakdown.rate_bp, breakdown.net, breakdown.tax, breakdown.gross),),
    )


def build_credit_note(event: DomainEvent, original: Invoice, locale: str) -> Invoice:
    """The unnumbered credit note for a ``charge.refunded`` event or a lost dispute.

    It is issued by the original's seller, at the original's rate and in its
    companion series, whatever the catalog says today: a credit note corrects
    that invoice. A full refund mirrors the original exactly; a partial one
    splits the refunded amount at the original's rate. A lost dispute gave the
    money back as surely as a refund, and is corrected the same way.
    """
    payload = event.typed_payload()
    lost = isinstance(payload, ChargeDisputeClosedPayload) and not payload.won
    if not (isinstance(payload, ChargeRefundedPayload) or lost):
        raise InvoicingError(f"cannot build a credit note from {event.type.value}")
    assert isinstance(payload, ChargeRefundedPayload | ChargeDisputeClosedPayload)
    if original.kind is not DocumentKind.INVOICE or original.is_draft:
        raise InvoicingError(f"{original.invoice_id} is not a finalised invoice")
    if payload.currency != original.currency:
        raise InvoicingError(f"refund in {payload.currency} of an invoice in {original.currency}")
    refund = Money(payload.amount, payload.currency)
    if not Money.zero(refund.currency) < refund <= original.gross_total:
        raise InvoicingError(
            f"refund {refund} must be positive and at most the invoice total {original.gross_total}"
        )
    if refund == original.gross_total:
        lines = tuple(_negated_line(line) for line in original.lines)
        vat = tuple(v.negated() for v in original.vat)
    else:
        if len(original.vat) != 1:
            raise InvoicingError("partial refund of a multi-rate invoice is not supported")
        rate = original.vat[0].rate_bp
        b = breakdown_for_paid(refund, rate, original.tax_mode)
        if original.tax_mode is TaxMode.EXCLUSIVE:  # the original's tax, to the minor unit
            share = div_round_half_up(refund.amount * original.tax_total.amount,
                                      original.gross_total.amount)  # fmt: skip
            b = TaxBreakdown(refund - Money(share, refund.currency), Money(share, refund.currency),
                             refund, rate)  # fmt: skip
        stated = b.gross if original.tax_mode is TaxMode.INCLUSIVE else b.net
        first = original.lines[0]
        lines = (
            InvoiceLine(
                first.plan, first.tier, first.interval, first.period_start, first.period_end,
                -stated, rate,
            ),
        )  # fmt: skip
        vat = (VatLine(rate, -b.net, -b.tax, -b.gross),)
    return Invoice(
        invoice_id=credit_note_id_for(event.event_id),
        kind=DocumentKind.CREDIT_NOTE,
        seller=original.seller,
        series=credit_note_series(original.series),
        market=original.market,
        currency=original.currency,
        locale=locale,
        tax_mode=original.tax_mode,
        tax_label=original.tax_label,
        account_id=original.account_id,
        subscription_id=original.subscription_id,
        charge_id=payload.charge_id,
        event_id=event.event_id,
        issued_at=event.occurred_at,
        lines=lines,
        vat=vat,
        original_invoice_id=original.invoice_id,
        original_number=original.number,
    )


def _negated_line(line: InvoiceLine) -> InvoiceLine:
    return InvoiceLine(
        line.plan, line.tier, line.interval, line.period_start, line.period_end,
        -line.amount, line.rate_bp,
    )  # fmt: skip
