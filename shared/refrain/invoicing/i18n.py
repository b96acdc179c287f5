"""Which language a customer reads, and Babel formatting in their locale.

Resolution: the customer's own locale (``customers/{id}.locale``), else the
market's default. Text comes from the closest catalogue in
:mod:`refrain.invoicing.messages` (``pt_BR``, then ``pt``, then English);
numbers, currencies and dates are formatted in the customer's full locale
when we have their language (so a Swiss German reader gets ``CHF 12.90``), and
in plain ``en`` when the text falls back to English, so a sentence never
mixes an English text with, say, Arabic digits.

Dates are calendar dates in UTC (periods and issue dates are UTC instants).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_percent

from refrain.domain.money import Money, format_money
from refrain.invoicing.messages import LANGUAGE_FALLBACK, MESSAGES

__all__ = ["Localizer", "localizer_for", "normalize_locale"]


def normalize_locale(value: str | None) -> str | None:
    """``pt-BR``, ``pt_br`` and ``pt_BR`` are one locale; unknown ones are None."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    return str(parsed)


@dataclass(frozen=True)
class Localizer:
    """Messages in one language plus formatting in one locale."""

    locale: str  # what the customer asked for (stored on the invoice)
    language: str  # the catalogue key the text comes from
    format_locale: str  # what Babel formats numbers and dates in

    def t(self, key: str, /, **values: str) -> str:
        """The message ``key`` with its placeholders filled (values already formatted)."""
        template = MESSAGES[self.language].get(key)
        if template is None:
            template = MESSAGES["en"][key]
        return template.format(**values)

    def money(self, amount: Money) -> str:
        return format_money(amount, self.format_locale)

    def date(self, value: datetime) -> str:
        return str(format_date(value.date(), format="long", locale=self.format_locale))

    def short_date(self, value: datetime) -> str:
        return str(format_date(value.date(), format="medium", locale=self.format_locale))

    def rate(self, rate_bp: int) -> str:
        fraction = Decimal(rate_bp) / Decimal(10_000)
        return str(format_percent(fraction, locale=self.format_locale, decimal_quantization=False))


@lru_cache(maxsize=256)
def localizer_for(requested: str | None, market_default: str) -> Localizer:
    """The customer's locale if valid, else the market default; text falls back to English."""
    locale = normalize_locale(requested) or normalize_locale(market_default) or "en"
    parsed = Locale.parse(locale)
    language = locale if locale in MESSAGES else None
    if language is None and parsed.language in MESSAGES:
        language = parsed.language
    if language is None:
        language = LANGUAGE_FALLBACK.get(parsed.language)
    if language is None:
        return Localizer(locale=locale, language="en", format_locale="en")
    return Localizer(locale=locale, language=language, format_locale=locale)
