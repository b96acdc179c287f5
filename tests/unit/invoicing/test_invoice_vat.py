"""Invoice drafts: VAT per rate for every market, odd currencies, credit notes, bad data."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.domain import Money, UnknownMarket, format_money, load_catalog
from refrain.domain.errors import UnknownPlan
from refrain.domain.tax import TaxMode, add_tax
from refrain.invoicing import DocumentKind, Invoice, InvoicingError, build_credit_note
from refrain.invoicing import build_invoice as _build_invoice
from refrain.invoicing.builder import breakdown_for_paid, vat_lines
from refrain.invoicing.model import InvoiceLine, VatLine
from tests.unit.invoicing.factories import T0, charge_refunded, invoice_paid

CATALOG = load_catalog()


def build(event, locale: str = "en", shards: int = 8) -> Invoice:  # type: ignore[no-untyped-def]
    return _build_invoice(event, CATALOG, locale, shards)


def paid_for(market_code: str, plan: str) -> Money:
    """What a customer pays for a plan: the price, plus tax where it is added on top."""
    market = CATALOG.market(market_code)
    price = CATALOG.price(plan, market_code)
    if market.tax_mode is TaxMode.EXCLUSIVE:
        return add_tax(price, market.tax_rate_bp).gross
    return price


MARKET_PLANS = [(m.code, plan) for m in CATALOG.markets.values() for plan in sorted(m.prices)]


@pytest.mark.parametrize(("market_code", "plan"), MARKET_PLANS)
def test_every_market_and_plan_adds_up(market_code: str, plan: str) -> None:
    market = CATALOG.market(market_code)
    paid = paid_for(market_code, plan)
    inv = build(
        invoice_paid(market=market_code, plan=plan, amount=paid.amount, currency=paid.currency)
    )
    [vat] = inv.vat
    assert inv.gross_total == paid
    assert vat.net + vat.tax == vat.gross == paid
    assert vat.rate_bp == market.tax_rate_bp
    # Tax is within half a minor unit of the exact value.
    exact = (
        Fraction(paid.amount * market.tax_rate_bp, 10_000 + market.tax_rate_bp)
        if market.tax_mode is TaxMode.INCLUSIVE
        else Fraction(vat.net.amount * market.tax_rate_bp, 10_000)
    )
    assert abs(vat.tax.amount - exact) <= Fraction(1, 2)
    [line] = inv.lines
    if market.tax_mode is TaxMode.INCLUSIVE:
        assert line.amount == paid
    else:  # the line shows the catalog's net price, tax on top
        assert line.amount == CATALOG.price(plan, market_code) == vat.net
    assert inv.seller.entity_id == market.legal_entity
    assert inv.seller.vat_id == CATALOG.legal_entities[market.legal_entity].vat_id
    assert inv.series.startswith(market.invoice_series)


def test_swedish_moms_figures() -> None:
    inv = build(invoice_paid(market="SE", amount=13900, currency="SEK"))
    assert (inv.net_total, inv.tax_total) == (Money(11120, "SEK"), Money(2780, "SEK"))


def test_canadian_gst_is_added_on_top() -> None:
    # 10.99 CAD net, 5 % GST = 0.5495 -> 0.55, 11.54 paid.
    inv = build(invoice_paid(market="CA", amount=1154, currency="CAD"))
    assert inv.net_total == Money(1099, "CAD")
    assert inv.tax_total == Money(55, "CAD")
    assert inv.tax_mode is TaxMode.EXCLUSIVE


def test_address_tax_is_invoiced_as_the_provider_charged_it() -> None:
    # New York City: Stripe Tax added 1.06 (8.875 %) on 11.99 at checkout.
    inv = build(invoice_paid(market="US", amount=1305, currency="USD", tax=106))
    assert (inv.net_total, inv.tax_total) == (Money(1199, "USD"), Money(106, "USD"))
    assert inv.lines[0].amount == Money(1199, "USD") and inv.vat[0].rate_bp == 884  # shown
    with pytest.raises(InvoicingError, match="not part of the amount"):
        build(invoice_paid(market="US", amount=100, currency="USD", tax=101))


def test_a_partial_refund_of_an_address_taxed_invoice_keeps_its_ratio() -> None:
    original = build(invoice_paid(market="US", amount=1305, currency="USD", tax=106)).numbered(1)
    note = build_credit_note(charge_refunded(amount=500, currency="USD", market="US"), original,
                             "en_US")  # fmt: skip
    assert note.gross_total == Money(-500, "USD")
    assert note.tax_total == Money(-41, "USD")  # 500 * 106 / 1305 = 40.6


@pytest.mark.parametrize(
    ("market", "amount", "currency", "net", "tax", "shown"),
    [
        ("JP", 1080, "JPY", 982, 98, "¥1,080"),  # zero decimals: 98.18 -> 98 yen
        ("KR", 10900, "KRW", 9909, 991, "₩10,900"),  # 990.9 -> 991 won
        ("KW", 1590, "KWD", 1590, 0, "KWD1.590"),  # three decimals, 0 % VAT
        ("CL", 5990, "CLP", 5034, 956, "CLP5,990"),
    ],
)
def test_zero_and_three_decimal_currencies(
    market: str, amount: int, currency: str, net: int, tax: int, shown: str
) -> None:
    inv = build(invoice_paid(market=market, amount=amount, currency=currency))
    assert inv.net_total == Money(net, currency)
    assert inv.tax_total == Money(tax, currency)
    assert format_money(inv.gross_total, "en") == shown


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    rate=st.integers(min_value=0, max_value=10_000),
    mode=st.sampled_from(list(TaxMode)),
)
def test_breakdown_of_any_paid_amount_adds_up(amount: int, rate: int, mode: TaxMode) -> None:
    b = breakdown_for_paid(Money(amount, "EUR"), rate, mode)
    assert b.net + b.tax == b.gross == Money(amount, "EUR")
    assert b.tax.amount >= 0


def test_vat_lines_group_by_rate() -> None:
    line = InvoiceLine("p", "individual", "month", T0, T0, Money(1000, "EUR"), 1900)
    other = InvoiceLine("p", "individual", "month", T0, T0, Money(500, "EUR"), 700)
    lines = vat_lines([line, line, other], TaxMode.INCLUSIVE, "EUR")
    assert [v.rate_bp for v in lines] == [700, 1900]
    assert lines[1].gross == Money(2000, "EUR")
    assert lines[1].tax == Money(319, "EUR")  # 2000 * 19/119 = 319.33


def test_vat_line_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(ValueError, match="add up"):
        VatLine(2500, Money(100, "SEK"), Money(25, "SEK"), Money(126, "SEK"))


def test_draft_is_deterministic_and_round_trips() -> None:
    a, b = build(invoice_paid()), build(invoice_paid())
    assert a == b and a.is_draft
    numbered = a.numbered(42)
    assert numbered.number == f"{a.series}-000042"
    assert Invoice.from_dict(numbered.to_dict()) == numbered
    with pytest.raises(ValueError, match="already numbered"):
        numbered.numbered(43)
    with pytest.raises(ValueError, match="draft"):
        _ = a.number


def test_invoice_id_comes_from_the_charge_or_else_the_event() -> None:
    assert build(invoice_paid(charge_id="pi_9")).invoice_id == "inv_pi_9"
    assert build(invoice_paid(charge_id=None)).invoice_id == "inv_sub_1#3"
    weird = build(invoice_paid(charge_id="GPA.12/34 x")).invoice_id
    assert "/" not in weird and weird.startswith("inv_h")


def test_invoice_carries_no_personal_data() -> None:
    doc = build(invoice_paid(), locale="sv_SE").numbered(1).to_dict()
    assert "email" not in str(doc) and "name" not in {k for k in doc if k != "seller"}
    assert doc["locale"] == "sv_SE"


# bad data: a clear error before anything could be written ----------------------
def test_unknown_market_is_refused_clearly() -> None:
    with pytest.raises(UnknownMarket, match="'XX'"):
        build(invoice_paid(market="XX"))


def test_unknown_plan_is_refused_clearly() -> None:
    with pytest.raises(UnknownPlan):
        build(invoice_paid(plan="platinum_monthly"))


def test_currency_other_than_the_markets_is_refused() -> None:
    with pytest.raises(InvoicingError, match="bills SEK"):
        build(invoice_paid(market="SE", currency="EUR", amount=1099))


def test_a_credit_note_cannot_be_built_from_a_paid_event() -> None:
    inv = build(invoice_paid()).numbered(1)
    with pytest.raises(InvoicingError, match="credit note"):
        build_credit_note(invoice_paid(), inv, "en")


# credit notes --------------------------------------------------------------------
def test_full_refund_mirrors_the_invoice_exactly() -> None:
    inv = build(invoice_paid(market="DE", amount=1099, currency="EUR")).numbered(7)
    note = build_credit_note(charge_refunded(amount=1099, currency="EUR", market="DE"), inv, "de")
    assert note.kind is DocumentKind.CREDIT_NOTE
    assert note.vat == tuple(v.negated() for v in inv.vat)
    assert note.gross_total == -inv.gross_total
    assert (note.original_invoice_id, note.original_number) == (inv.invoice_id, inv.number)
    assert note.series == f"{inv.series}-CN"
    assert note.seller == inv.seller


def test_partial_refund_uses_the_original_rate() -> None:
    inv = build(invoice_paid()).numbered(1)
    note = build_credit_note(charge_refunded(amount=5000), inv, "sv_SE")
    [vat] = note.vat
    assert vat.gross == Money(-5000, "SEK") and vat.tax == Money(-1000, "SEK")
    assert vat.rate_bp == 2500


@pytest.mark.parametrize(
    ("amount", "currency", "match"),
    [(13901, "SEK", "at most"), (0, "SEK", "positive"), (100, "EUR", "refund in EUR")],
)
def test_bad_refunds_are_refused(amount: int, currency: str, match: str) -> None:
    inv = build(invoice_paid()).numbered(1)
    with pytest.raises(InvoicingError, match=match):
        build_credit_note(charge_refunded(amount=amount, currency=currency), inv, "en")


def test_a_draft_cannot_be_credited() -> None:
    with pytest.raises(InvoicingError, match="not a finalised"):
        build_credit_note(charge_refunded(amount=100), build(invoice_paid()), "en")
