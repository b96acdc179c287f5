"""The receipt as a PDF attachment (fpdf2), from the same view as the e-mail.

Font: DejaVu Sans, cut at build time to the code points receipts use (Latin with
extensions, Greek, Cyrillic, punctuation, currency signs: kr, €, ¥, ₩, ₹), ships
with the package (``fonts/ReceiptSans.ttf``, made by scripts/receipt_font.py,
license beside it). Shipped, because a function's machine image promises no
fonts, and cut in advance, because cutting the ~6,000-glyph font took ~340 ms of
every receipt instance's first request. REFRAIN_PDF_FONT names another TTF,
which is cut the same way on first use. No CJK or Arabic glyphs are in it, so
when the font cannot draw every character of the localized view (Japanese,
Korean, Arabic text) the PDF falls back to the English text with the same
figures and a generic tax label; the e-mail body stays fully localized. Without
any TTF the core Helvetica font is used, which covers Latin-1 only, and the same
fallback applies.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

from refrain.invoicing.i18n import Localizer
from refrain.invoicing.model import Invoice
from refrain.invoicing.render import ReceiptView, receipt_view

__all__ = ["find_font", "pdf_view", "render_pdf"]

SHIPPED_FONT = Path(__file__).with_name("fonts") / "ReceiptSans.ttf"
_LATIN1 = frozenset(range(256))
_FAMILY = "Receipt"


@dataclass(frozen=True)
class FontChoice:
    regular: Path | None  # None: core Helvetica
    codepoints: frozenset[int]


# What receipts need: Latin (with extensions), Greek, Cyrillic, punctuation and the
# currency signs. A font cut to these makes each PDF several times cheaper (fpdf2
# parses and subsets the embedded font per document).
RECEIPT_RANGES = (
    (0x20, 0x24F),
    (0x370, 0x3FF),
    (0x400, 0x4FF),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2100, 0x214F),
)


@lru_cache(maxsize=1)
def find_font() -> FontChoice:
    """REFRAIN_PDF_FONT (cut on first use) if set, else the shipped, already cut font."""
    from fontTools.ttLib import TTFont  # fpdf2's own dependency, loaded with it

    override = os.environ.get("REFRAIN_PDF_FONT")
    if override and Path(override).is_file():
        path = cut_font(Path(override), Path(tempfile.mkdtemp(prefix="refrain-font-")))
    elif SHIPPED_FONT.is_file():
        path = SHIPPED_FONT
    else:
        return FontChoice(None, _LATIN1)
    return FontChoice(path, frozenset(TTFont(str(path)).getBestCmap() or {}))


def cut_font(source: Path, out_dir: Path, name: str | None = None) -> Path:
    """A copy of ``source`` with only the receipt code points (and their layout features)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(source), recalcTimestamp=False)  # the same bytes from the same source
    wanted = {cp for lo, hi in RECEIPT_RANGES for cp in range(lo, hi + 1)}
    options = subset.Options()
    options.layout_features = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["FFTM"]  # FontForge timestamps: nothing to subset, silently drop
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted & set(font.getBestCmap() or {}))
    subsetter.subset(font)
    out = out_dir / (name or source.name)
    font.save(str(out))
    return out


def _strings(view: ReceiptView) -> Iterable[str]:
    yield from (view.title, view.seller_label, view.seller_name, *view.seller_address)
    yield from view.columns
    for rows in (view.header, view.totals, view.seller_ids):
        for row in rows:
            yield row.label
            yield row.value
    for line in view.lines:
        yield from (line.description, line.period, line.amount)


def _covered(view: ReceiptView, codepoints: frozenset[int]) -> bool:
    return all(ord(ch) in codepoints for text in _strings(view) for ch in text if ch != "\n")


def pdf_view(invoice: Invoice, loc: Localizer, codepoints: frozenset[int]) -> ReceiptView:
    """The customer's view if the font draws all of it, else the English one."""
    view = receipt_view(invoice, loc, None)
    if _covered(view, codepoints):
        return view
    english = Localizer(locale=loc.locale, language="en", format_locale="en")
    label = invoice.tax_label
    if not all(ord(ch) in codepoints for ch in label):
        label = "Tax"
    return receipt_view(invoice, english, None, tax_label=label)


def _safe(text: str, codepoints: frozenset[int]) -> str:
    return "".join(ch if ord(ch) in codepoints else "?" for ch in text)


def render_pdf(invoice: Invoice, loc: Localizer) -> bytes:
    """One A4 page: title and number, seller, lines, VAT per rate, total."""
    font = find_font()
    view = pdf_view(invoice, loc, font.codepoints)

    def s(text: str) -> str:
        return _safe(text, font.codepoints)

    pdf = FPDF(format="A4")
    pdf.set_creation_date(invoice.issued_at.astimezone(UTC))
    pdf.set_title(s(f"{view.title} {invoice.number}"))
    pdf.set_author(s(invoice.seller.legal_name))
    if font.regular is not None:
        # One embedded face: every extra face is parsed and subset again for each document.
        pdf.add_font(_FAMILY, "", str(font.regular))
        family = _FAMILY
    else:
        family = "Helvetica"
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.epw

    pdf.set_font(family, "", 18)
    pdf.cell(width, 10, s(f"{view.title} {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    for row in view.header:
        pdf.cell(width, 6, s(f"{row.label}: {row.value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    pdf.set_font(family, "", 10)
    pdf.cell(width, 6, s(view.seller_label), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    for text in (view.seller_name, *view.seller_address):
        pdf.cell(width, 5, s(text), new_x="LMARGIN", new_y="NEXT")
    for row in view.seller_ids:
        pdf.cell(width, 5, s(f"{row.label}: {row.value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    cols = (width * 0.42, width * 0.36, width * 0.22)
    pdf.set_font(family, "", 10)
    for col_width, title, align in zip(cols, view.columns, ("L", "L", "R"), strict=True):
        pdf.cell(col_width, 7, s(title), border="B", align=align)
    pdf.ln()
    pdf.set_font(family, "", 10)
    for line in view.lines:
        for col_width, text, align in zip(
            cols, (line.description, line.period, line.amount), ("L", "L", "R"), strict=True
        ):
            pdf.cell(col_width, 7, s(text), align=align)
        pdf.ln()
    pdf.ln(3)
    for index, row in enumerate(view.totals):
        last = index == len(view.totals) - 1
        pdf.set_font(family, "", 11 if last else 10)
        pdf.cell(width * 0.78, 6, s(row.label), border="T" if last else 0)
        pdf.cell(width * 0.22, 6, s(row.value), border="T" if last else 0, align="R")
        pdf.ln()
    return bytes(pdf.output())
