"""What the model sees about one retry attempt, derived only from what Refrain records.

A retry is described by the facts in the churn signals (decline category of the last
failure, attempt number, market, when the period's first failure happened, when the
attempt is made). Everything else is derived here, in one place, so training (tooling)
and scoring (run time) compute exactly the same numbers: local hour and weekday in the
market's zone, hours since the failure, days since the last and to the next local payday.
No advice code: the signals do not record one (the category and ``hard_decline`` do).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from refrain.domain.declines import DeclineCategory
from refrain.domain.paydays import market_zone, paydays_between

__all__ = ["CATEGORIES", "NUMERIC", "AttemptContext", "encode", "feature_names"]

NUMERIC: Final = (
    "attempt",
    "hours_since_failure",
    "local_hour",
    "local_weekday",
    "local_day",
    "days_since_payday",
    "days_to_payday",
)
CATEGORIES: Final = tuple(c.value for c in DeclineCategory)
_PAYDAY_REACH: Final = timedelta(days=40)  # every calendar has a payday within 40 days


@dataclass(frozen=True, slots=True)
class AttemptContext:
    """One candidate (or past) retry: the facts a policy knows when it decides.

    ``attempt`` counts charges in the period, the failed renewal being 1 (the first
    retry is 2); ``failed_at`` is that first failure, ``at`` the attempt's time (both
    timezone-aware); ``decline_category`` is the last failure's category.
    """

    decline_category: str
    attempt: int
    market: str
    failed_at: datetime
    at: datetime


def feature_names(markets: tuple[str, ...]) -> tuple[str, ...]:
    """The vector layout for a model knowing these markets (one-hot, others all zero)."""
    return (
        *NUMERIC,
        *(f"category={c}" for c in CATEGORIES),
        *(f"market={m}" for m in markets),
    )


def encode(ctx: AttemptContext) -> dict[str, float]:
    """The named features of one attempt (one-hot entries only for the values present)."""
    if ctx.at.tzinfo is None or ctx.failed_at.tzinfo is None:
        raise ValueError("attempt times must be timezone-aware")
    market = ctx.market.upper()
    local = ctx.at.astimezone(market_zone(market))
    day = local.date()
    days = paydays_between(market, day - _PAYDAY_REACH, day + _PAYDAY_REACH)
    since = min((day - d).days for d in days if d <= day)
    until = min((d - day).days for d in days if d >= day)
    return {
        "attempt": float(ctx.attempt),
        "hours_since_failure": (ctx.at - ctx.failed_at).total_seconds() / 3600,
        "local_hour": float(local.hour),
        "local_weekday": float(local.weekday()),
        "local_day": float(local.day),
        "days_since_payday": float(since),
        "days_to_payday": float(until),
        f"category={ctx.decline_category}": 1.0,
        f"market={market}": 1.0,
    }
