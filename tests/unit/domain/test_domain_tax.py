"""VAT extraction and addition: exact integer splits, documented rounding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.domain.catalog import load_catalog
from refrain.domain.money import Money
from refrain.domain.tax import TaxMode, add_tax, extract_tax, tax_for_price

pytestmark = pytest.mark.unit


def _within_half_unit_inclusive(gross: int, tax: int, rate: int) -> bool:
    # |tax - gross*rate/(10000+rate)| <= 1/2, in integers
    return abs(2 * (tax * (10_000 + rate) - gross * rate)) <= 10_000 + rate


def test_vat_consistent_for_every_catalog_price() -> None:
    catalog = load_catalog()
    checked = 0
    for market in catalog.markets.values():
        for plan_id in market.prices:
            price = catalog.price(plan_id, market.code)
            split = tax_for_price(price, market.tax_rate_bp, market.tax_mode)
            assert split.net + split.tax == split.gross, (market.code, plan_id)
            if market.tax_mode is TaxMode.INCLUSIVE:
                assert split.gross == price
                assert _within_half_unit_inclusive(
                    price.amount, split.tax.amount, market.tax_rate_bp
                )
            else:
                assert split.net == price
                assert (
                    abs(2 * (split.tax.amount * 10_000 - price.amount * market.tax_rate_bp))
                    <= 10_000
                )
            checked += 1
    assert checked >= 12 * 6


def test_known_values() -> None:
    se = extract_tax(Money(13900, "SEK"), 2500)
    assert (se.net.amount, se.tax.amount) == (11120, 2780)
    jp = extract_tax(Money(1080, "JPY"), 1000)
    assert (jp.net.amount, jp.tax.amount) == (982, 98)  # 98.18 -> 98
    ch = extract_tax(Money(1395, "CHF"), 810)
    assert (ch.net.amount, ch.tax.amount) == (1290, 105)  # 104.53 -> 105
    ca = add_tax(Money(1199, "CAD"), 500)
    assert (ca.tax.amount, ca.gross.amount) == (60, 1259)  # 59.95 -> 60


def test_ties_round_away_from_zero() -> None:
    # 10 * 500 / 10000 = 0.5 -> 1 ; and a credit note mirrors it
    assert add_tax(Money(10, "EUR"), 500).tax.amount == 1
    assert add_tax(Money(-10, "EUR"), 500).tax.amount == -1
    # 21 gross at 10 %: tax = 21*1000/11000 = 1.909 -> 2
    assert extract_tax(Money(21, "JPY"), 1000).tax.amount == 2


def test_zero_rate_and_bad_rates() -> None:
    split = extract_tax(Money(1590, "KWD"), 0)
    assert split.tax.amount == 0 and split.net.amount == 1590
    with pytest.raises(ValueError):
        extract_tax(Money(100, "EUR"), -1)
    with pytest.raises(ValueError):
        add_tax(Money(100, "EUR"), 2000.0)  # type: ignore[arg-type]


@given(
    gross=st.integers(min_value=-(10**10), max_value=10**10),
    rate=st.integers(min_value=0, max_value=10_000),
)
def test_extraction_properties(gross: int, rate: int) -> None:
    split = extract_tax(Money(gross, "EUR"), rate)
    assert split.net.amount + split.tax.amount == gross
    assert _within_half_unit_inclusive(gross, split.tax.amount, rate)
    # symmetric: a refund of the same gross has the mirrored split
    mirrored = extract_tax(Money(-gross, "EUR"), rate)
    assert mirrored.tax.amount == -split.tax.amount


@given(
    net=st.integers(min_value=0, max_value=10**10),
    rate=st.integers(min_value=0, max_value=10_000),
)
def test_addition_properties(net: int, rate: int) -> None:
    split = add_tax(Money(net, "USD"), rate)
    assert split.gross.amount == net + split.tax.amount
    assert abs(2 * (split.tax.amount * 10_000 - net * rate)) <= 10_000
