"""Local paydays and time zones per market: public calendar knowledge a retry policy uses.

Insufficient-funds declines recover when money arrives, and money arrives on local
paydays (1st and 15th in the US, the 25th in Sweden and Japan, the last working day in
Germany and the UK). A weekend payday moves to the Friday before. Markets not listed
are paid on the 1st and the 15th. The simulator's decline model reads the same
calendar (refrain_tools.simulator.decline_model), so the bench's payday-aware policy
knows the paydays exactly, an optimistic assumption stated in bench/dunning.py.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta, tzinfo
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["MARKET_ZONES", "PAYDAYS", "market_zone", "paydays", "paydays_between"]

PAYDAYS: Final[dict[str, tuple[int | str, ...]]] = {
    "SE": (25,), "NO": (20,), "DK": ("last",), "FI": ("last",), "DE": ("last",),
    "FR": ("last",), "GB": ("last",), "NL": (25,), "JP": (25,), "BR": (5, 20),
    "US": (1, 15), "CA": (15, "last"), "MX": (15, "last"),
}  # fmt: skip
_DEFAULT_PAYDAYS: Final = (1, 15)

# The zone a market's issuers and customers mostly live in (the largest, for several).
MARKET_ZONES: Final[dict[str, str]] = {
    "SE": "Europe/Stockholm", "NO": "Europe/Oslo", "DK": "Europe/Copenhagen",
    "FI": "Europe/Helsinki", "DE": "Europe/Berlin", "FR": "Europe/Paris",
    "GB": "Europe/London", "NL": "Europe/Amsterdam", "JP": "Asia/Tokyo",
    "BR": "America/Sao_Paulo", "US": "America/New_York", "CA": "America/Toronto",
    "MX": "America/Mexico_City", "AU": "Australia/Sydney", "IN": "Asia/Kolkata",
}  # fmt: skip


@cache
def market_zone(market: str) -> tzinfo:
    """The market's zone; UTC for a market not listed (or a machine without tz data)."""
    try:
        return ZoneInfo(MARKET_ZONES.get(market.upper(), "UTC"))
    except ZoneInfoNotFoundError:  # pragma: no cover - tz data ships with Python's image
        return ZoneInfo("UTC")


def paydays(market: str, year: int, month: int) -> list[date]:
    """The market's paydays in a month (a weekend payday moves to the Friday before)."""
    last = calendar.monthrange(year, month)[1]
    days = []
    for rule in PAYDAYS.get(market.upper(), _DEFAULT_PAYDAYS):
        day = date(year, month, last if rule == "last" else min(int(rule), last))
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        days.append(day)
    return sorted(days)


def paydays_between(market: str, start: date, end: date) -> list[date]:
    """Paydays from ``start`` to ``end`` inclusive, in order."""
    found: list[date] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        found += [d for d in paydays(market, year, month) if start <= d <= end]
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found
