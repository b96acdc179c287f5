"""Injectable time source, so every function and test decides what "now" is.

All domain datetimes are timezone-aware UTC; naive datetimes are refused
rather than guessed, because a guessed timezone shifts renewals by hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, Protocol, runtime_checkable

from refrain.domain.errors import NaiveDatetime

__all__ = [
    "Clock",
    "FixedClock",
    "ManualClock",
    "SystemClock",
    "basic_utc_stamp",
    "ensure_utc",
    "isoformat",
    "utc",
]


def ensure_utc(value: datetime, what: str = "datetime") -> datetime:
    """Return ``value`` normalised to UTC; refuse naive datetimes."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetime(what)
    if value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0
) -> datetime:
    """Shorthand for an aware UTC datetime (tests, fixtures, data)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# Formatting. Every transition writes a few timestamps into event payloads. The C
# ``isoformat``/``strftime`` go through printf-style formatting plus a tzinfo
# call, which made them a fifth of a transition's cost; joining pre-built
# two-digit strings gives the same text for UTC datetimes (the only kind the
# domain holds). Anything else takes the standard method, so output never differs.
_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(100))


def isoformat(value: datetime) -> str:
    """Exactly ``value.isoformat()``, about twice as cheap for UTC datetimes."""
    if value.tzinfo is not UTC or value.year < 1000:
        return value.isoformat()
    d, us = _TWO_DIGITS, value.microsecond
    fraction = f".{us:06d}" if us else ""  # provider times often carry milliseconds
    return (
        f"{value.year}-{d[value.month]}-{d[value.day]}"
        f"T{d[value.hour]}:{d[value.minute]}:{d[value.second]}{fraction}+00:00"
    )


def basic_utc_stamp(value: datetime) -> str:
    """Exactly ``value.strftime("%Y%m%dT%H%M%SZ")`` (ISO 8601 basic), a quarter of the cost."""
    if value.year < 1000:
        return value.strftime("%Y%m%dT%H%M%SZ")
    d = _TWO_DIGITS
    return (
        f"{value.year}{d[value.month]}{d[value.day]}"
        f"T{d[value.hour]}{d[value.minute]}{d[value.second]}Z"
    )


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """Always the same instant."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at, "FixedClock time")

    def now(self) -> datetime:
        return self._at


class ManualClock:
    """A clock tests move forward explicitly (dunning schedules, timers)."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start, "ManualClock start")

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("a clock does not go backwards")
        self._now = self._now + step
        return self._now

    def set(self, at: datetime) -> None:
        at = ensure_utc(at, "ManualClock time")
        if at < self._now:
            raise ValueError("a clock does not go backwards")
        self._now = at
