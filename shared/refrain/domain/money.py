"""Money: an integer number of minor units plus an ISO 4217 code.

No floats, ever: amounts are ``int`` minor units (cents, öre, yen, fils);
``Decimal`` appears only at the edges (parsing a price written as "11.99",
handing an amount to Babel for display). Arithmetic across currencies raises
``CurrencyMismatch`` because a silent sum of SEK and EUR is a wrong invoice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency

from refrain.domain.currencies import minor_digits, validate_currency
from refrain.domain.errors import CurrencyMismatch, InvalidMoney

__all__ = ["Money", "div_round_half_even", "div_round_half_up", "format_money"]


def div_round_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounded to nearest, ties away from zero (commercial rounding)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return sign * q


def div_round_half_even(numerator: int, denominator: int) -> int:
    """Integer division rounded to nearest, ties to even (banker's rounding)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(numerator, denominator)  # floor division, 0 <= r < d
    twice = 2 * r
    if twice > denominator or (twice == denominator and q % 2 == 1):
        q += 1
    return q


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:  # bool and float are refused on purpose
            raise InvalidMoney(f"amount must be int minor units, got {type(self.amount).__name__}")
        validate_currency(self.currency)

    # construction -------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def of(cls, major: str | Decimal | int, currency: str) -> Money:
        """Parse a major-unit amount exactly ("11.99" SEK -> 1199); refuse extra digits."""
        if isinstance(major, float):
            raise InvalidMoney("floats are not accepted for money; pass a str or Decimal")
        try:
            value = Decimal(major) if not isinstance(major, Decimal) else major
        except InvalidOperation as exc:
            raise InvalidMoney(f"not a number: {major!r}") from exc
        if not value.is_finite():
            raise InvalidMoney(f"not a finite amount: {major!r}")
        digits = minor_digits(currency)
        scaled = value.scaleb(digits)
        if scaled != scaled.to_integral_value():
            raise InvalidMoney(f"{major} has more than {digits} decimals for {currency}")
        return cls(int(scaled), currency)

    # arithmetic ---------------------------------------------------------
    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"expected Money, got {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise TypeError("money can only be multiplied by an int; use allocate() or tax helpers")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    @property
    def digits(self) -> int:
        return minor_digits(self.currency)

    def to_decimal(self) -> Decimal:
        """Major units as an exact Decimal (for display and provider edges only)."""
        return Decimal(self.amount).scaleb(-self.digits)

    def allocate(self, ratios: Sequence[int]) -> list[Money]:
        """Split by integer ratios without losing a minor unit (largest remainder).

        Each share gets ``floor(amount * r / total)``; the units left over go
        one each to the shares with the largest remainders, earlier shares
        winning ties, so the result is deterministic and sums exactly.
        """
        if not ratios:
            raise ValueError("allocate needs at least one ratio")
        if any(type(r) is not int or r < 0 for r in ratios):
            raise ValueError("ratios must be non-negative ints")
        total = sum(ratios)
        if total == 0:
            raise ValueError("ratios must not all be zero")
        sign = -1 if self.amount < 0 else 1
        amount = abs(self.amount)
        shares: list[int] = []
        remainders: list[tuple[int, int]] = []
        for index, ratio in enumerate(ratios):
            share, remainder = divmod(amount * ratio, total)
            shares.append(share)
            remainders.append((-remainder, index))
        leftover = amount - sum(shares)
        for _, index in sorted(remainders)[:leftover]:
            shares[index] += 1
        return [Money(sign * share, self.currency) for share in shares]

    # serialisation ------------------------------------------------------
    def to_dict(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Money:
        amount, currency = data.get("amount"), data.get("currency")
        if type(amount) is not int or not isinstance(currency, str):
            raise InvalidMoney(f"not a money object: {data!r}")
        return cls(amount, currency)

    def __str__(self) -> str:
        return f"{self.to_decimal():f} {self.currency}"


def format_money(money: Money, locale: str) -> str:
    """Locale formatting with the currency's own digits (¥1,080; 1.590 KWD)."""
    return str(
        format_currency(money.to_decimal(), money.currency, locale=locale, currency_digits=True)
    )
