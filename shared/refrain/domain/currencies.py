"""Currency digits: how many minor-unit digits each ISO 4217 currency has.

Our own minor units follow CLDR (through Babel's
``get_currency_precision``), the maintained source that also drives
formatting, so an amount we store is the amount we print. ISO 4217 and CLDR
agree on the cases that matter for us: zero decimals for JPY, KRW, VND, CLP,
ISK and UGX; three for KWD, BHD, JOD, OMR and TND; two for HUF and TWD
(CLDR's separate *cash* digits of 0 for HUF/TWD are a notes-and-coins rule,
not an invoicing one, and are ignored).

Payment providers do not all agree, so every amount crossing a provider
boundary goes through :mod:`refrain.domain.provider_amounts`, driven by the
per-provider exponent tables below.

Stripe (docs.stripe.com/currencies, "Zero-decimal", "Three-decimal" and
"Special cases"):

* zero-decimal (amount is whole units, ``¥1080 -> 1080``): BIF, CLP, DJF,
  GNF, JPY, KMF, KRW, MGA, PYG, RWF, UGX, VND, VUV, XAF, XOF, XPF;
* three-decimal (KWD, BHD, JOD, OMR, TND): amount in thousandths, but the
  last digit must be 0 (``5.120 KWD -> 5120``; 5.124 is refused by Stripe);
  we refuse it before Stripe does instead of rounding someone's price;
* ISK: zero-decimal in ISO 4217, but Stripe keeps it two-decimal for
  backwards compatibility and since 2023 requires amounts divisible by 100
  (``500 ISK -> 50000``);
* HUF and TWD: two-decimal for charges (our minor units pass through);
  Stripe only forces whole units (divisible by 100) on *payouts*, which this
  core never creates; our catalog prices them in whole units anyway;
* UGX: listed by Stripe among the zero-decimal currencies (amount is whole
  shillings). Older integrations sent UGX as two-decimal; that is a bug we
  must not copy.

Adyen states amounts in ISO 4217 minor units; we use the CLDR digits and
model no deviation (check Adyen's currency table before enabling an exotic
currency). Google Play reports prices in micros (millionths of a unit) and
Apple in milliunits (thousandths); both are exact conversions from ours.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from babel.numbers import get_currency_precision, list_currencies

from refrain.domain.errors import UnknownCurrency

__all__ = [
    "STRIPE_THREE_DECIMAL",
    "STRIPE_ZERO_DECIMAL",
    "ProviderAmountRule",
    "minor_digits",
    "provider_rule",
    "validate_currency",
]

STRIPE_ZERO_DECIMAL: Final = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
STRIPE_THREE_DECIMAL: Final = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
_STRIPE_TWO_DECIMAL_OVERRIDES: Final = frozenset({"ISK"})

_KNOWN: Final = frozenset(c for c in list_currencies() if c != "XXX")


@lru_cache(maxsize=512)
def validate_currency(code: str) -> str:
    """Return the code if it is a real ISO 4217 currency Babel knows about."""
    if not isinstance(code, str) or len(code) != 3 or not code.isupper() or code not in _KNOWN:
        raise UnknownCurrency(str(code))
    return code


@lru_cache(maxsize=512)
def minor_digits(code: str) -> int:
    """Number of minor-unit digits we store for ``code`` (CLDR data)."""
    return int(get_currency_precision(validate_currency(code)))


class ProviderAmountRule:
    """How one provider writes an amount of one currency in its amount field.

    ``exponent`` is the number of decimal digits in the provider's integer
    amount; ``step`` is the divisibility the provider demands of that
    integer (10 for Stripe's three-decimal currencies, 100 for ISK).
    """

    __slots__ = ("currency", "exponent", "provider", "step")

    def __init__(self, provider: str, currency: str, exponent: int, step: int = 1) -> None:
        self.provider = provider
        self.currency = currency
        self.exponent = exponent
        self.step = step

    def __repr__(self) -> str:
        return (
            f"ProviderAmountRule({self.provider!r}, {self.currency!r}, "
            f"exponent={self.exponent}, step={self.step})"
        )


PROVIDERS: Final = ("stripe", "adyen", "google_play", "apple")


@lru_cache(maxsize=1024)
def provider_rule(provider: str, currency: str) -> ProviderAmountRule:
    """The amount-field rule for ``currency`` at ``provider``."""
    ours = minor_digits(currency)
    if provider == "stripe":
        if currency in STRIPE_ZERO_DECIMAL:
            return ProviderAmountRule(provider, currency, 0)
        if currency in STRIPE_THREE_DECIMAL:
            return ProviderAmountRule(provider, currency, 3, step=10)
        if currency in _STRIPE_TWO_DECIMAL_OVERRIDES:
            return ProviderAmountRule(provider, currency, 2, step=100)
        return ProviderAmountRule(provider, currency, 2)
    if provider == "adyen":
        return ProviderAmountRule(provider, currency, ours)
    if provider == "google_play":
        return ProviderAmountRule(provider, currency, 6)
    if provider == "apple":
        return ProviderAmountRule(provider, currency, 3)
    raise ValueError(f"unknown payment provider {provider!r}; expected one of {PROVIDERS}")
