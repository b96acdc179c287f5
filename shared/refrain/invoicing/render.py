"""Receipts, credit notes and notices as localized e-mail (text + HTML).

Two steps: a *view* (every string already translated and formatted by Babel)
and the Jinja2 templates that lay the view out. The PDF renderer reads the
same view, so the e-mail and its attachment can never disagree on a figure.
Autoescape is on for HTML: names, addresses and labels are escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from refrain.domain.money import Money
from refrain.invoicing.i18n import Localizer
from refrain.invoicing.model import DocumentKind, Invoice

EN_DASH = " \u2013 "

__all__ = [
    "NoticeView",
    "ReceiptView",
    "RenderedMail",
    "notice_view",
    "receipt_view",
    "render_notice",
    "render_receipt",
]


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Row:
    label: str
    value: str


@dataclass(frozen=True)
class LineView:
    description: str
    period: str
    amount: str


@dataclass(frozen=True)
class ReceiptView:
    html_lang: str
    subject: str
    greeting: str
    intro: str
    title: str
    header: tuple[Row, ...]  # number, date, corrected invoice
    columns: tuple[str, str, str]
    lines: tuple[LineView, ...]
    totals: tuple[Row, ...]  # net, tax per rate, gross
    seller_label: str
    seller_name: str
    seller_address: tuple[str, ...]
    seller_ids: tuple[Row, ...]
    attachment: str
    footer: str


@dataclass(frozen=True)
class NoticeView:
    html_lang: str
    subject: str
    greeting: str
    paragraphs: tuple[str, ...]
    action_label: str
    action_url: str
    footer: str
    seller_name: str
    seller_address: tuple[str, ...] = field(default_factory=tuple)


def plan_text(loc: Localizer, tier: str, interval: str) -> str:
    return loc.t("plan_line", tier=loc.t(f"tier_{tier}"), interval=loc.t(f"interval_{interval}"))


def greeting(loc: Localizer, name: str | None) -> str:
    return loc.t("greeting_name", name=name) if name else loc.t("greeting")


def receipt_view(
    invoice: Invoice, loc: Localizer, name: str | None, tax_label: str | None = None
) -> ReceiptView:
    """Everything a receipt shows, as display strings. ``tax_label`` overrides the
    catalog's (the PDF uses it when the font cannot draw the local label)."""
    credit = invoice.kind is DocumentKind.CREDIT_NOTE
    label = tax_label or invoice.tax_label
    header = [Row(loc.t("number"), invoice.number), Row(loc.t("date"), loc.date(invoice.issued_at))]
    if credit and invoice.original_number:
        header.append(Row(loc.t("corrects"), invoice.original_number))
    lines = tuple(
        LineView(
            description=plan_text(loc, line.tier, line.interval),
            period=f"{loc.short_date(line.period_start)}{EN_DASH}{loc.short_date(line.period_end)}",
            amount=loc.money(line.amount),
        )
        for line in invoice.lines
    )
    totals = [Row(loc.t("net_total", tax=label), loc.money(invoice.net_total))]
    totals += [
        Row(
            loc.t("tax_line", tax=label, rate=loc.rate(v.rate_bp), net=loc.money(v.net)),
            loc.money(v.tax),
        )
        for v in invoice.vat
    ]
    totals.append(
        Row(loc.t("total_refunded" if credit else "total_paid"), loc.money(invoice.gross_total))
    )
    seller = invoice.seller
    ids = []
    if seller.vat_id:
        ids.append(Row(loc.t("vat_id"), seller.vat_id))
    if seller.tax_registration:
        ids.append(Row(loc.t("tax_registration"), seller.tax_registration))
    number = invoice.number
    refund = Money(-invoice.gross_total.amount, invoice.currency)
    return ReceiptView(
        html_lang=loc.locale.replace("_", "-"),
        subject=loc.t("subject_credit_note" if credit else "subject_receipt", number=number),
        greeting=greeting(loc, name),
        intro=(
            loc.t(
                "intro_credit_note",
                amount=loc.money(refund),
                original=invoice.original_number or "",
            )
            if credit
            else loc.t("intro_receipt")
        ),
        title=loc.t("title_credit_note" if credit else "title_receipt"),
        header=tuple(header),
        columns=(loc.t("description"), loc.t("period"), loc.t("amount")),
        lines=lines,
        totals=tuple(totals),
        seller_label=loc.t("seller"),
        seller_name=seller.legal_name,
        seller_address=seller.address_lines,
        seller_ids=tuple(ids),
        attachment=loc.t("attachment_credit_note" if credit else "attachment"),
        footer=loc.t("footer"),
    )


def notice_view(
    kind: str,
    loc: Localizer,
    *,
    name: str | None,
    plan: str,
    action_url: str,
    seller_name: str,
    amount: Money | None = None,
    retry_at: datetime | None = None,
    ended_at: datetime | None = None,
    involuntary: bool = False,
    old_amount: Money | None = None,
    applies_at: datetime | None = None,
    consent_required: bool = False,
) -> NoticeView:
    """``kind`` is ``payment_failed``, ``on_hold``, ``expired``, ``upgrade_declined`` or
    ``price_change`` (``amount`` from ``old_amount`` at the renewal ``applies_at``)."""
    if kind == "price_change":
        if amount is None or old_amount is None or applies_at is None:
            raise ValueError("a price-change notice needs both prices and the renewal date")
        when = loc.date(applies_at)
        paragraphs = [
            loc.t("price_change_body", plan=plan, old=loc.money(old_amount), new=loc.money(amount)),
            loc.t("price_change_from", date=when),
            loc.t(
                "price_change_consent" if consent_required else "price_change_no_action", date=when
            ),
        ]
        action = loc.t("price_change_action")
    elif kind == "payment_failed":
        if amount is None:
            raise ValueError("a payment-failed notice needs the amount")
        paragraphs = [loc.t("payment_failed_body", amount=loc.money(amount), plan=plan)]
        if retry_at is not None:
            paragraphs.append(loc.t("payment_failed_retry", date=loc.date(retry_at)))
        paragraphs.append(loc.t("payment_failed_action"))
        action = loc.t("update_payment")
    elif kind == "on_hold":
        paragraphs = [loc.t("on_hold_body"), loc.t("on_hold_action")]
        action = loc.t("update_payment")
    elif kind == "upgrade_declined":
        if amount is None:
            raise ValueError("an upgrade-declined notice needs the amount")
        paragraphs = [
            loc.t("upgrade_declined_body", amount=loc.money(amount), plan=plan),
            loc.t("upgrade_declined_action"),
        ]
        action = loc.t("update_payment")
    elif kind == "expired":
        if ended_at is None:
            raise ValueError("an expiry notice needs the end date")
        paragraphs = [loc.t("expired_body", plan=plan, date=loc.date(ended_at))]
        if involuntary:
            paragraphs.append(loc.t("expired_involuntary"))
        paragraphs.append(loc.t("expired_action"))
        action = loc.t("resubscribe")
    else:
        raise ValueError(f"unknown notice kind {kind!r}")
    return NoticeView(
        html_lang=loc.locale.replace("_", "-"),
        subject=loc.t(f"subject_{kind}"),
        greeting=greeting(loc, name),
        paragraphs=tuple(paragraphs),
        action_label=action,
        action_url=action_url,
        footer=loc.t("footer"),
        seller_name=seller_name,
    )


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("refrain.invoicing", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(name: str, view: ReceiptView | NoticeView) -> RenderedMail:
    env = environment()
    return RenderedMail(
        subject=view.subject,
        text=env.get_template(f"{name}.txt").render(v=view),
        html=env.get_template(f"{name}.html").render(v=view),
    )


def render_receipt(invoice: Invoice, loc: Localizer, name: str | None) -> RenderedMail:
    return _render("receipt", receipt_view(invoice, loc, name))


def render_notice(view: NoticeView) -> RenderedMail:
    return _render("notice", view)
