"""The receipt as a PDF attachment (fpdf2), from the same view as the e-mail.

Font: a Unicode TrueType font from the machine (DejaVu Sans, found under
/usr/share/fonts, or a path in REFRAIN_PDF_FONT) is embedded and subset, so
Latin, Greek and Cyrillic text, accents and currency signs (kr, €, ¥, ₩, ₹)
render as in the e-mail. No CJK or Arabic font ships with the machine or
with a package we depend on, so when the font cannot draw every character of
the localized view (Japanese, Korean, Arabic text) the PDF falls back to the
English text with the same figures and a generic tax label; the e-mail body
stays fully localized. Without any TTF the core Helvetica font is used, which
covers Latin-1 only, and the same fallback applies.
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

_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
)
_LATIN1 = frozenset(range(256))
_FAMILY = "Receipt"


@dataclass(frozen=True)
class FontChoice:
    regular: Path | None  # None: core Helvetica
    bold: Path | None
    codepoints: frozenset[int]


# What receipts need: Latin (with extensions), Greek, Cyrillic, punctuation and the
# currency signs. Cutting the ~6,000-glyph font down to these once per process makes
# each PDF several times cheaper (fpdf2 parses and subsets the embedded font per document).
_RANGES = (
    (0x20, 0x24F),
    (0x370, 0x3FF),
    (0x400, 0x4FF),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2100, 0x214F),
)


@lru_cache(maxsize=1)
def find_font() -> FontChoice:
    """The first Unicode TTF that exists here (cut to what receipts use), and its code points."""
    override = os.environ.get("REFRAIN_PDF_FONT")
    for candidate in ((override,) if override else ()) + _CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            bold = path.with_name(path.stem + "-Bold" + path.suffix)
            regular, codepoints = _cut(path)
            return FontChoice(regular, bold if bold.is_file() else None, codepoints)
    return FontChoice(None, None, _LATIN1)


def _cut(path: Path) -> tuple[Path, frozenset[int]]:
    """A copy of the font with only the receipt code points, in a per-process temp dir."""
    from fontTools import subset  # fpdf2's own dependency
    from fontTools.ttLib import TTFont

    font = TTFont(str(path))
    wanted = {cp for lo, hi in _RANGES for cp in range(lo, hi + 1)}
    options = subset.Options()
    options.layout_features = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["FFTM"]  # FontForge timestamps: nothing to subset, silently drop
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted & set(font.getBestCmap() or {}))
    subsetter.subset(font)
    out = Path(tempfile.mkdtemp(prefix="refrain-font-")) / path.name
    font.save(str(out))
    return out, frozenset(TTFont(str(out)).getBestCmap() or {})


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
