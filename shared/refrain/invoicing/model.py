"""Invoices and credit notes as plain, frozen values.

An :class:`Invoice` is built unnumbered (``sequence is None``, a draft) from a
domain event and gets its number only inside the transaction that stores it
(see :mod:`refrain.invoicing.numbering`). Everything else on it is derived
deterministically from the event and the catalog, so a redelivered event
builds a byte-identical draft.

Amounts are :class:`Money` in integer minor units. A credit note carries
negative amounts: it mirrors the invoice it corrects line by line, and
``net + tax == gross`` holds per VAT line and in total.

Personal data stays out: the invoice names the customer by the opaque
account id and keeps only the locale the documents are rendered in (these are
B2C receipts, simplified invoices without the buyer's address).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from refrain.domain.money import Money
from refrain.domain.tax import TaxMode

__all__ = ["DocumentKind", "Invoice", "InvoiceLine", "Seller", "VatLine", "format_number"]

NUMBER_DIGITS = 6


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


def format_number(series: str, sequence: int) -> str:
    """``SE3-000042``: the series, a dash, the zero-padded sequence."""
    if sequence < 1:
        raise ValueError("invoice sequence numbers start at 1")
    return f"{series}-{sequence:0{NUMBER_DIGITS}d}"


@dataclass(frozen=True, slots=True)
class Seller:
    """The legal entity that issues the document, as it was on the day of issue."""

    entity_id: str
    legal_name: str
    address_lines: tuple[str, ...]
    country: str
    vat_id: str | None
    tax_registration: str | None = None  # a market-specific one, e.g. Norway's VOEC

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "legal_name": self.legal_name,
            "address_lines": list(self.address_lines),
            "country": self.country,
            "vat_id": self.vat_id,
            "tax_registration": self.tax_registration,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seller:
        return cls(
            entity_id=str(data["entity_id"]),
            legal_name=str(data["legal_name"]),
            address_lines=tuple(str(x) for x in data["address_lines"]),
            country=str(data["country"]),
            vat_id=data.get("vat_id"),
            tax_registration=data.get("tax_registration"),
        )


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One line: a plan for a period. ``amount`` is as the market states prices
    (gross where prices include tax, net where tax is added on top)."""

    plan: str
    tier: str
    interval: str
    period_start: datetime
    period_end: datetime
    amount: Money
    rate_bp: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "tier": self.tier,
            "interval": self.interval,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "amount": self.amount.to_dict(),
            "rate_bp": self.rate_bp,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InvoiceLine:
        return cls(
            plan=str(data["plan"]),
            tier=str(data["tier"]),
            interval=str(data["interval"]),
            period_start=data["period_start"],
            period_end=data["period_end"],
            amount=Money.from_dict(data["amount"]),
            rate_bp=int(data["rate_bp"]),
        )


@dataclass(frozen=True, slots=True)
class VatLine:
    """Tax per rate: what EU VAT Directive art. 226(8)-(10) asks an invoice to show."""

    rate_bp: int
    net: Money
    tax: Money
    gross: Money

    def __post_init__(self) -> None:
        if self.net + self.tax != self.gross:
            raise ValueError("VAT line does not add up: net + tax != gross")

    def negated(self) -> VatLine:
        return VatLine(self.rate_bp, -self.net, -self.tax, -self.gross)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate_bp": self.rate_bp,
            "net": self.net.to_dict(),
            "tax": self.tax.to_dict(),
            "gross": self.gross.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VatLine:
        return cls(
            rate_bp=int(data["rate_bp"]),
            net=Money.from_dict(data["net"]),
            tax=Money.from_dict(data["tax"]),
            gross=Money.from_dict(data["gross"]),
        )


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice or credit note; ``sequence`` is None until it is finalised."""

    invoice_id: str
    kind: DocumentKind
    seller: Seller
    series: str
    market: str
    currency: str
    locale: str
    tax_mode: TaxMode
    tax_label: str
    account_id: str
    subscription_id: str
    charge_id: str | None
    event_id: str
    issued_at: datetime
    lines: tuple[InvoiceLine, ...]
    vat: tuple[VatLine, ...]
    original_invoice_id: str | None = None
    original_number: str | None = None
    sequence: int | None = None

    def __post_init__(self) -> None:
        if not self.lines or not self.vat:
            raise ValueError("an invoice needs at least one line and one VAT line")
        for money in [line.amount for line in self.lines] + [v.gross for v in self.vat]:
            if money.currency != self.currency:
                raise ValueError(f"{money.currency} amount on a {self.currency} invoice")
        if (self.kind is DocumentKind.CREDIT_NOTE) != (self.original_invoice_id is not None):
            raise ValueError("a credit note, and only a credit note, references an invoice")

    # totals ---------------------------------------------------------------
    @property
    def net_total(self) -> Money:
        return _sum([v.net for v in self.vat], self.currency)

    @property
    def tax_total(self) -> Money:
        return _sum([v.tax for v in self.vat], self.currency)

    @property
    def gross_total(self) -> Money:
        return _sum([v.gross for v in self.vat], self.currency)

    # numbering ------------------------------------------------------------
    @property
    def is_draft(self) -> bool:
        return self.sequence is None

    @property
    def number(self) -> str:
        if self.sequence is None:
            raise ValueError(f"invoice {self.invoice_id} is a draft and has no number yet")
        return format_number(self.series, self.sequence)

    def numbered(self, sequence: int) -> Invoice:
        if self.sequence is not None:
            raise ValueError(f"invoice {self.invoice_id} is already numbered {self.number}")
        format_number(self.series, sequence)  # validates
        return replace(self, sequence=sequence)

    # storage --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The Firestore document; ``number`` is denormalised for operators' queries."""
        return {
            "invoice_id": self.invoice_id,
            "kind": self.kind.value,
            "seller": self.seller.to_dict(),
            "series": self.series,
            "sequence": self.sequence,
            "number": None if self.sequence is None else self.number,
            "market": self.market,
            "currency": self.currency,
            "locale": self.locale,
            "tax_mode": self.tax_mode.value,
            "tax_label": self.tax_label,
            "account_id": self.account_id,
            "subscription_id": self.subscription_id,
            "charge_id": self.charge_id,
            "event_id": self.event_id,
            "issued_at": self.issued_at,
            "lines": [line.to_dict() for line in self.lines],
            "vat": [v.to_dict() for v in self.vat],
            "totals": {
                "net": self.net_total.to_dict(),
                "tax": self.tax_total.to_dict(),
                "gross": self.gross_total.to_dict(),
            },
            "original_invoice_id": self.original_invoice_id,
            "original_number": self.original_number,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Invoice:
        return cls(
            invoice_id=str(data["invoice_id"]),
            kind=DocumentKind(data["kind"]),
            seller=Seller.from_dict(data["seller"]),
            series=str(data["series"]),
            market=str(data["market"]),
            currency=str(data["currency"]),
            locale=str(data["locale"]),
            tax_mode=TaxMode(data["tax_mode"]),
            tax_label=str(data["tax_label"]),
            account_id=str(data["account_id"]),
            subscription_id=str(data["subscription_id"]),
            charge_id=data.get("charge_id"),
            event_id=str(data["event_id"]),
            issued_at=data["issued_at"],
            lines=tuple(InvoiceLine.from_dict(x) for x in data["lines"]),
            vat=tuple(VatLine.from_dict(x) for x in data["vat"]),
            original_invoice_id=data.get("original_invoice_id"),
            original_number=data.get("original_number"),
            sequence=data.get("sequence"),
        )


def _sum(items: list[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for item in items:
        total = total + item
    return total
