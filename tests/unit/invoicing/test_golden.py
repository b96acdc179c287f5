"""Rendered receipts compared with reviewed golden files, per locale.

Regenerate after an intended change with ``REFRAIN_UPDATE_GOLDEN=1`` and
review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from refrain.domain import load_catalog
from refrain.invoicing import build_credit_note, build_invoice
from refrain.invoicing.i18n import localizer_for
from refrain.invoicing.render import RenderedMail, notice_view, render_notice, render_receipt
from tests.unit.invoicing.factories import PERIOD_END, charge_refunded, invoice_paid

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("REFRAIN_UPDATE_GOLDEN") == "1"
CATALOG = load_catalog()
NAME = "Kim <Andersson> & Co"  # shows that HTML escapes what a customer typed

RECEIPTS = {
    # locale: (market, plan)
    "en_GB": ("GB", "individual_monthly"),
    "en_US": ("CA", "family_monthly"),  # tax-exclusive market
    "sv_SE": ("SE", "individual_monthly"),
    "de_DE": ("DE", "duo_monthly"),
    "fr_FR": ("FR", "individual_yearly"),
    "ja_JP": ("JP", "individual_monthly"),
    "pt_BR": ("BR", "family_monthly"),
    "es_MX": ("MX", "student_monthly"),
}


def paid(market: str, plan: str) -> int:
    from refrain.domain.tax import TaxMode, add_tax

    m = CATALOG.market(market)
    price = CATALOG.price(plan, market)
    return (
        price.amount
        if m.tax_mode is TaxMode.INCLUSIVE
        else add_tax(price, m.tax_rate_bp).gross.amount
    )


def check(name: str, mail: RenderedMail) -> None:
    for suffix, content in (
        ("txt", f"Subject: {mail.subject}\n\n{mail.text}"),
        ("html", mail.html),
    ):
        path = GOLDEN / f"{name}.{suffix}"
        if UPDATE or not path.exists():
            if not UPDATE:
                pytest.fail(f"{path} is missing; run with REFRAIN_UPDATE_GOLDEN=1 and review it")
            path.write_text(content, encoding="utf-8")
        assert content == path.read_text(encoding="utf-8"), f"{path} differs"


@pytest.mark.parametrize("locale", sorted(RECEIPTS))
def test_receipt_matches_golden(locale: str) -> None:
    market, plan = RECEIPTS[locale]
    currency = CATALOG.market(market).currency
    event = invoice_paid(market=market, plan=plan, amount=paid(market, plan), currency=currency)
    invoice = build_invoice(event, CATALOG, locale, 8).numbered(1042)
    mail = render_receipt(invoice, localizer_for(locale, "en"), NAME)
    check(f"receipt_{locale}", mail)
    assert invoice.number in mail.subject and invoice.number in mail.text


def test_credit_note_matches_golden() -> None:
    event = invoice_paid(
        market="DE", plan="duo_monthly", amount=paid("DE", "duo_monthly"), currency="EUR"
    )
    invoice = build_invoice(event, CATALOG, "de_DE", 8).numbered(1042)
    refund = charge_refunded(amount=500, currency="EUR", market="DE")
    note = build_credit_note(refund, invoice, "de_DE").numbered(3)
    check("credit_note_de_DE", render_receipt(note, localizer_for("de_DE", "en"), None))


@pytest.mark.parametrize("locale", ["sv_SE", "ja_JP"])
def test_payment_failed_notice_matches_golden(locale: str) -> None:
    from refrain.domain import Money
    from refrain.domain.clock import utc

    loc = localizer_for(locale, "en")
    view = notice_view(
        "payment_failed",
        loc,
        name=None,
        plan="Refrain",
        action_url="https://account.refrain.example/payment-method",
        seller_name="Refrain AB",
        amount=Money(13900, "SEK"),
        retry_at=utc(2025, 2, 18, 9),
    )
    check(f"payment_failed_{locale}", render_notice(view))
    assert PERIOD_END  # the fixture period is what the receipts above show


def test_html_escapes_customer_text_and_text_does_not() -> None:
    event = invoice_paid()
    invoice = build_invoice(event, CATALOG, "sv_SE", 8).numbered(1)
    mail = render_receipt(invoice, localizer_for("sv_SE", "en"), "<script>x</script>")
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "<script>x</script>" in mail.text
