"""Convert our minor units to a provider's amount field and back, exactly.

The rules per provider and currency live in :mod:`refrain.domain.currencies`
(see its docstring for Stripe's zero-decimal, three-decimal and ISK/HUF/TWD/UGX
cases). Both directions refuse amounts that would need rounding: a price
that a provider cannot carry is a catalog bug, and an amount from a provider
that we cannot store exactly is a data bug; neither is fixed by rounding.
"""

from __future__ import annotations

from refrain.domain.currencies import minor_digits, provider_rule
from refrain.domain.errors import ProviderAmountError
from refrain.domain.money import Money

__all__ = ["from_provider_amount", "to_provider_amount"]


def to_provider_amount(money: Money, provider: str) -> int:
    """The integer the provider expects in its ``amount`` field for ``money``."""
    rule = provider_rule(provider, money.currency)
    shift = rule.exponent - minor_digits(money.currency)
    if shift >= 0:
        value: int = money.amount * 10**shift
    else:
        value, rest = divmod(money.amount, 10**-shift)
        if rest:
            raise ProviderAmountError(
                f"{money} has more precision than {provider} accepts for {money.currency}"
            )
    if value % rule.step:
        raise ProviderAmountError(
            f"{provider} requires {money.currency} amounts divisible by {rule.step} "
            f"in its amount field; {money} would be {value}"
        )
    return value


def from_provider_amount(amount: int, currency: str, provider: str) -> Money:
    """Our ``Money`` for a provider-reported amount; refuses fractions of our minor unit."""
    if type(amount) is not int:
        raise ProviderAmountError(f"provider amount must be an int, got {type(amount).__name__}")
    rule = provider_rule(provider, currency)
    shift = rule.exponent - minor_digits(currency)
    if shift <= 0:
        return Money(amount * 10**-shift, currency)
    value, rest = divmod(amount, 10**shift)
    if rest:
        raise ProviderAmountError(
            f"{provider} amount {amount} {currency} is not a whole number of {currency} minor units"
        )
    return Money(value, currency)
