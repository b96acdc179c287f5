"""VAT / GST / sales tax on a price, in integer arithmetic.

Rates are integer basis points (2500 = 25 %, 810 = 8.1 %), never floats.

Rounding rule (one rule, both directions): the *tax* amount is computed once
per invoice total and rounded to the nearest minor unit, ties away from zero
(commercial rounding, what EU, UK, Swiss and Japanese invoicing rules accept
and what a credit note mirrors exactly for negative amounts). The other
figure is derived by subtraction, so ``net + tax == gross`` always holds:

* tax-inclusive price (EU, GB, JP, ...): ``tax = round_half_up(gross * rate /
  (10000 + rate))``, ``net = gross - tax``;
* tax-exclusive price (US, CA): ``tax = round_half_up(net * rate / 10000)``,
  ``gross = net + tax``.

Either way the tax is within half a minor unit of the exact value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from refrain.domain.money import Money, div_round_half_up

__all__ = [
    "TaxBreakdown",
    "TaxMode",
    "add_tax",
    "extract_tax",
    "tax_for_price",
    "tax_on_top",
    "tax_within",
]

BASIS_POINTS = 10_000


class TaxMode(StrEnum):
    INCLUSIVE = "inclusive"
    EXCLUSIVE = "exclusive"


@dataclass(frozen=True, slots=True)
class TaxBreakdown:
    net: Money
    tax: Money
    gross: Money
    rate_bp: int


def _check_rate(rate_bp: int) -> None:
    if type(rate_bp) is not int or not 0 <= rate_bp <= BASIS_POINTS:
        raise ValueError(f"tax rate must be int basis points in [0, 10000], got {rate_bp!r}")


def extract_tax(gross: Money, rate_bp: int) -> TaxBreakdown:
    """Split a tax-inclusive amount into net and tax."""
    _check_rate(rate_bp)
    tax = div_round_half_up(gross.amount * rate_bp, BASIS_POINTS + rate_bp)
    return TaxBreakdown(
        net=Money(gross.amount - tax, gross.currency),
        tax=Money(tax, gross.currency),
        gross=gross,
        rate_bp=rate_bp,
    )


def add_tax(net: Money, rate_bp: int) -> TaxBreakdown:
    """Tax on a tax-exclusive amount, and the gross the customer pays."""
    _check_rate(rate_bp)
    tax = div_round_half_up(net.amount * rate_bp, BASIS_POINTS)
    return TaxBreakdown(
        net=net,
        tax=Money(tax, net.currency),
        gross=Money(net.amount + tax, net.currency),
        rate_bp=rate_bp,
    )


def tax_for_price(price: Money, rate_bp: int, mode: TaxMode) -> TaxBreakdown:
    """Breakdown for a catalog price, whichever way the market states it."""
    return extract_tax(price, rate_bp) if mode is TaxMode.INCLUSIVE else add_tax(price, rate_bp)


# Tax on top at a subscription's own rate -------------------------------------------------
#
# Where the tax depends on the customer's address (US states, Canadian provinces) the
# provider computes it at checkout (Stripe Tax); the subscription keeps that tax beside its
# price, and every later amount (a renewal, a prorated upgrade, a new plan's price) carries
# tax at the same ratio ``tax / price``, exactly, as a fraction of integers (8.875 % has no
# basis-point form). One rounding per amount, half away from zero, as above.


def tax_on_top(amount: Money, price: Money, tax: Money | None) -> Money:
    """The tax to add to a net ``amount`` at the ratio ``tax / price`` (0 without a tax)."""
    if tax is None or price.amount == 0:
        return Money.zero(amount.currency)
    return Money(div_round_half_up(amount.amount * tax.amount, price.amount), amount.currency)


def tax_within(gross: Money, price: Money, tax: Money | None) -> Money:
    """The tax inside a ``gross`` charged at the ratio ``tax / price`` (0 without a tax).

    For ``gross = amount + tax_on_top(amount)`` this is ``tax_on_top(amount)`` to within one
    minor unit, and exactly so for the full price (``gross = price + tax`` gives ``tax``).
    """
    if tax is None or price.amount + tax.amount == 0:
        return Money.zero(gross.currency)
    total = price.amount + tax.amount
    return Money(div_round_half_up(gross.amount * tax.amount, total), gross.currency)
