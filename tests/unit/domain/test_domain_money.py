"""Money, currency digits, provider amount fields and formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.domain.currencies import STRIPE_THREE_DECIMAL, STRIPE_ZERO_DECIMAL, minor_digits
from refrain.domain.errors import (
    CurrencyMismatch,
    InvalidMoney,
    ProviderAmountError,
    UnknownCurrency,
)
from refrain.domain.money import Money, div_round_half_even, div_round_half_up, format_money
from refrain.domain.provider_amounts import from_provider_amount, to_provider_amount

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("code", "digits"),
    [
        ("JPY", 0),
        ("KRW", 0),
        ("VND", 0),
        ("CLP", 0),
        ("ISK", 0),
        ("UGX", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("JOD", 3),
        ("OMR", 3),
        ("TND", 3),
        ("USD", 2),
        ("SEK", 2),
        ("HUF", 2),
        ("TWD", 2),
    ],
)
def test_minor_digits_come_from_cldr(code: str, digits: int) -> None:
    assert minor_digits(code) == digits


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrency, match="'ABC'"):
        Money(100, "ABC")
    with pytest.raises(UnknownCurrency):
        Money(100, "usd")


def test_floats_and_bools_are_refused() -> None:
    with pytest.raises(InvalidMoney):
        Money(10.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(InvalidMoney):
        Money(True, "EUR")
    with pytest.raises(InvalidMoney):
        Money.of(10.5, "EUR")  # type: ignore[arg-type]


def test_parse_major_units_exactly() -> None:
    assert Money.of("11.99", "SEK") == Money(1199, "SEK")
    assert Money.of("1080", "JPY") == Money(1080, "JPY")
    assert Money.of("1.590", "KWD") == Money(1590, "KWD")
    assert Money.of(Decimal("-2.5"), "EUR") == Money(-250, "EUR")
    with pytest.raises(InvalidMoney, match="decimals"):
        Money.of("10.5", "JPY")
    with pytest.raises(InvalidMoney):
        Money.of("1.0001", "KWD")
    with pytest.raises(InvalidMoney):
        Money.of("abc", "EUR")


def test_mixed_currency_arithmetic_raises() -> None:
    with pytest.raises(CurrencyMismatch, match="SEK and EUR"):
        _ = Money(100, "SEK") + Money(100, "EUR")
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "SEK") - Money(100, "NOK")
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "SEK") < Money(100, "DKK")


def test_same_currency_arithmetic() -> None:
    a, b = Money(1199, "EUR"), Money(301, "EUR")
    assert a + b == Money(1500, "EUR")
    assert a - b == Money(898, "EUR")
    assert -a == Money(-1199, "EUR")
    assert a * 3 == 3 * a == Money(3597, "EUR")
    assert b < a
    with pytest.raises(TypeError):
        _ = a * Decimal("1.5")  # type: ignore[operator]


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    ratios=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(
        lambda r: sum(r) > 0
    ),
)
def test_allocation_sums_exactly_and_is_fair(amount: int, ratios: list[int]) -> None:
    parts = Money(amount, "EUR").allocate(ratios)
    assert sum(p.amount for p in parts) == amount
    total = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        exact_times_total = amount * ratio
        # each share is within one minor unit of its exact value
        assert abs(part.amount * total - exact_times_total) < total
        if ratio == 0:
            assert part.amount == 0


def test_allocation_gives_leftover_to_largest_remainder() -> None:
    assert [m.amount for m in Money(100, "SEK").allocate([1, 1, 1])] == [34, 33, 33]
    assert [m.amount for m in Money(5, "JPY").allocate([3, 7])] == [
        2,
        3,
    ]  # 1.5 / 3.5: tie, first wins
    assert [m.amount for m in Money(-100, "SEK").allocate([1, 1, 1])] == [-34, -33, -33]


def test_allocation_refuses_bad_ratios() -> None:
    with pytest.raises(ValueError):
        Money(100, "EUR").allocate([])
    with pytest.raises(ValueError):
        Money(100, "EUR").allocate([0, 0])
    with pytest.raises(ValueError):
        Money(100, "EUR").allocate([1, -1])


@pytest.mark.parametrize(
    ("n", "d", "half_up", "half_even"),
    [(5, 2, 3, 2), (7, 2, 4, 4), (-5, 2, -3, -2), (1, 3, 0, 0), (2, 3, 1, 1), (-7, 2, -4, -4)],
)
def test_integer_rounding(n: int, d: int, half_up: int, half_even: int) -> None:
    assert div_round_half_up(n, d) == half_up
    assert div_round_half_even(n, d) == half_even


def test_formatting_uses_currency_digits() -> None:
    assert format_money(Money(1080, "JPY"), "en_US") == "¥1,080"
    assert format_money(Money(1080, "JPY"), "ja_JP") == "￥1,080"
    assert format_money(Money(1590, "KWD"), "en") == "KWD1.590"
    assert "1.590" in format_money(Money(1590, "KWD"), "ar_KW")
    assert format_money(Money(1199, "GBP"), "en_GB") == "£11.99"
    assert format_money(Money(13900, "SEK"), "sv_SE") == "139,00\xa0kr"
    assert format_money(Money(10900, "KRW"), "ko_KR") == "₩10,900"


# provider amount fields ---------------------------------------------------


@pytest.mark.parametrize(
    ("money", "stripe_amount"),
    [
        (Money(1080, "JPY"), 1080),
        (Money(10900, "KRW"), 10900),
        (Money(4950, "CLP"), 4950),
        (Money(1199, "USD"), 1199),
        (Money(5120, "KWD"), 5120),
        (Money(500, "ISK"), 50000),
        (Money(299000, "HUF"), 299000),
        (Money(14900, "TWD"), 14900),
        (Money(37000, "UGX"), 37000),
    ],
)
def test_stripe_amount_field(money: Money, stripe_amount: int) -> None:
    assert to_provider_amount(money, "stripe") == stripe_amount
    assert from_provider_amount(stripe_amount, money.currency, "stripe") == money


def test_stripe_three_decimal_last_digit_must_be_zero() -> None:
    with pytest.raises(ProviderAmountError, match="divisible by 10"):
        to_provider_amount(Money(5124, "KWD"), "stripe")


def test_stripe_isk_fractional_kronur_are_refused() -> None:
    with pytest.raises(ProviderAmountError):
        from_provider_amount(550, "ISK", "stripe")


def test_stripe_tables_do_not_overlap() -> None:
    assert not STRIPE_ZERO_DECIMAL & STRIPE_THREE_DECIMAL
    for code in STRIPE_ZERO_DECIMAL:
        assert minor_digits(code) == 0, code
    for code in STRIPE_THREE_DECIMAL:
        assert minor_digits(code) == 3, code


def test_store_micros_and_milliunits() -> None:
    assert to_provider_amount(Money(11900, "SEK"), "google_play") == 119_000_000
    assert from_provider_amount(1_080_000_000, "JPY", "google_play") == Money(1080, "JPY")
    assert to_provider_amount(Money(1199, "USD"), "apple") == 11990
    with pytest.raises(ProviderAmountError):
        from_provider_amount(1_080_500_000, "JPY", "google_play")
    with pytest.raises(ValueError, match="unknown payment provider"):
        to_provider_amount(Money(1, "USD"), "paypal")


@given(
    amount=st.integers(min_value=0, max_value=10**9),
    currency=st.sampled_from(["USD", "JPY", "KWD", "ISK", "SEK", "KRW", "BHD"]),
    provider=st.sampled_from(["stripe", "adyen", "google_play", "apple"]),
)
def test_provider_amount_round_trip(amount: int, currency: str, provider: str) -> None:
    money = Money(amount, currency)
    try:
        wire = to_provider_amount(money, provider)
    except ProviderAmountError:
        assert provider == "stripe" and currency in STRIPE_THREE_DECIMAL and amount % 10
        return
    assert from_provider_amount(wire, currency, provider) == money


def test_serialisation_round_trip() -> None:
    money = Money(1590, "KWD")
    assert Money.from_dict(money.to_dict()) == money
    with pytest.raises(InvalidMoney):
        Money.from_dict({"amount": "15.90", "currency": "KWD"})
