"""The PDF opens and carries the number; the MIME message has the right shape."""

from __future__ import annotations

import io
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from pypdf import PdfReader

from refrain.domain import load_catalog
from refrain.invoicing import build_credit_note, build_invoice
from refrain.invoicing.i18n import localizer_for
from refrain.invoicing.mime import Attachment, build_mime
from refrain.invoicing.pdf import find_font, pdf_view, render_pdf
from refrain.invoicing.render import render_receipt
from tests.unit.invoicing.factories import charge_refunded, invoice_paid

CATALOG = load_catalog()


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize(
    ("market", "amount", "currency", "locale", "expected"),
    [
        ("SE", 13900, "SEK", "sv_SE", ["Kvitto", "Moms 25", "139,00", "SE559900000101"]),
        ("DE", 1099, "EUR", "de_DE", ["Quittung", "MwSt. 19", "10,99", "Verkäufer"]),
        ("KW", 1590, "KWD", "ar_KW", ["Receipt", "1.590"]),
        ("BR", 2190, "BRL", "pt_BR", ["Recibo", "São Paulo", "R$"]),
    ],
)
def test_pdf_opens_and_contains_the_number(
    market: str, amount: int, currency: str, locale: str, expected: list[str]
) -> None:
    invoice = build_invoice(
        invoice_paid(market=market, amount=amount, currency=currency), CATALOG, locale, 8
    ).numbered(77)
    data = render_pdf(invoice, localizer_for(locale, "en"))
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert invoice.number in text
    for fragment in expected:
        assert fragment in text


def test_japanese_pdf_falls_back_to_english_when_the_font_has_no_cjk() -> None:
    font = find_font()
    invoice = build_invoice(
        invoice_paid(market="JP", amount=1080, currency="JPY"), CATALOG, "ja_JP", 8
    ).numbered(5)
    loc = localizer_for("ja_JP", "en")
    view = pdf_view(invoice, loc, font.codepoints)
    if ord("領") in font.codepoints:  # a CJK font is installed: the PDF stays Japanese
        assert view.title == "領収書"
        return
    assert view.title == "Receipt"
    assert any("Tax 10%" in row.label for row in view.totals)  # no 消費税 glyphs
    text = pdf_text(render_pdf(invoice, loc))
    assert invoice.number in text and "1,080" in text


def test_credit_note_pdf_names_the_corrected_invoice() -> None:
    invoice = build_invoice(invoice_paid(), CATALOG, "en_GB", 8).numbered(12)
    note = build_credit_note(charge_refunded(amount=13900), invoice, "en_GB").numbered(1)
    text = pdf_text(render_pdf(note, localizer_for("en_GB", "en")))
    assert note.number in text and invoice.number in text and "Credit note" in text


def test_mime_is_mixed_with_alternative_and_pdf() -> None:
    invoice = build_invoice(
        invoice_paid(market="JP", amount=1080, currency="JPY"), CATALOG, "ja_JP", 8
    ).numbered(9)
    loc = localizer_for("ja_JP", "en")
    mail = render_receipt(invoice, loc, "花子")
    raw = build_mime(
        sender="receipts@refrain.example",
        sender_name="Refrain",
        to="hanako@example.com",
        mail=mail,
        attachments=(Attachment(f"{invoice.number}.pdf", render_pdf(invoice, loc)),),
        headers={"X-Refrain-Notice": invoice.invoice_id},
    )
    parsed = message_from_bytes(raw, policy=default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed["Subject"] == mail.subject  # RFC 2047 round trip of Japanese
    assert parsed["X-Refrain-Notice"] == invoice.invoice_id
    alternative, pdf = parsed.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html = alternative.iter_parts()
    # SMTP policy: CRLF line ends on the wire.
    assert text.get_content().replace("\r\n", "\n") == mail.text
    assert html.get_content().replace("\r\n", "\n") == mail.html
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == f"{invoice.number}.pdf"
    assert invoice.number in pdf_text(pdf.get_content())


def test_the_shipped_font_is_used_as_it_is_and_draws_the_receipt_scripts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from refrain.invoicing import pdf

    def no_cutting(*_: object, **__: object) -> None:
        raise AssertionError("the shipped font is cut at build time, never per instance")

    monkeypatch.delenv("REFRAIN_PDF_FONT", raising=False)
    monkeypatch.setattr(pdf, "cut_font", no_cutting)
    pdf.find_font.cache_clear()
    try:
        font = pdf.find_font()
    finally:
        pdf.find_font.cache_clear()
    assert font.regular == pdf.SHIPPED_FONT
    assert {ord(ch) for ch in "kr€¥₩₹£R$ÅäßçãΩжЖ\u2013"} <= font.codepoints
    assert ord("領") not in font.codepoints  # cut: no CJK (the PDF falls back to English)


def test_an_operator_font_is_cut_to_the_receipt_ranges_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from refrain.invoicing import pdf

    monkeypatch.setenv("REFRAIN_PDF_FONT", str(pdf.SHIPPED_FONT))
    pdf.find_font.cache_clear()
    try:
        font = pdf.find_font()
    finally:
        pdf.find_font.cache_clear()
    assert font.regular is not None and font.regular != pdf.SHIPPED_FONT
    # Cutting an already cut font keeps exactly its code points: the cut is a fixed point.
    again = pdf.cut_font(font.regular, tmp_path)
    assert again.read_bytes() == font.regular.read_bytes()
