"""Scheduled price versions per (plan, market): validated, then written all or nothing.

Version 1 of every price is the shipped catalog (``refrain/data/catalog.json``). A price
change is a later version, ``{plan}:{market}:v{n}``, with the amount and the instant it
takes effect, stored in Firestore's ``price_changes`` collection by
``refrain prices schedule`` (docs/PRICING.md says why there rather than in the catalog
file). The market's notice days and consent flag are copied onto the version when it is
scheduled, so a later catalog edit never changes what subscribers were told.

Refused before anything is written, every problem of every row listed: an unknown plan
or market, a plan the market does not sell, an amount that is not positive or has more
decimals than the currency (``10.999`` EUR, ``1080.5`` JPY), the current price again, an
effective date closer than the market's notice days, the same (plan, market, date)
twice. The versions of one request are created in one atomic write with create-only
preconditions: two operators scheduling at once cannot both make ``v2``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from refrain.domain.catalog import Catalog
from refrain.domain.clock import ensure_utc
from refrain.domain.errors import DomainError, InvalidMoney
from refrain.domain.money import Money

__all__ = [
    "PriceChangeRefused",
    "PriceChangeRow",
    "PriceChangeStore",
    "ScheduledPrice",
    "change_id_for",
    "plan_versions",
    "validate_rows",
]


class PriceChangeRefused(Exception):
    """Nothing was written; ``problems`` says why, one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class PriceChangeRow:
    """One requested change as typed (the amount in major units, as text: never a float)."""

    plan: str
    market: str
    amount: str
    effective_at: datetime
    source: str | None = None  # where in a file it came from ("line 3"), for errors


@dataclass(frozen=True, slots=True)
class ScheduledPrice:
    change_id: str
    plan: str
    market: str
    version: int
    price: Money
    effective_at: datetime
    notice_days: int
    consent_required: bool
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "change_id": self.change_id, "plan": self.plan, "market": self.market,
            "version": self.version, "price": self.price.to_dict(),
            "effective_at": self.effective_at.isoformat(), "notice_days": self.notice_days,
            "consent_required": self.consent_required, "created_at": self.created_at.isoformat(),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScheduledPrice:
        return cls(
            change_id=str(data["change_id"]), plan=str(data["plan"]), market=str(data["market"]),
            version=int(data["version"]), price=Money.from_dict(data["price"]),
            effective_at=ensure_utc(datetime.fromisoformat(data["effective_at"])),
            notice_days=int(data["notice_days"]), consent_required=bool(data["consent_required"]),
            created_at=ensure_utc(datetime.fromisoformat(data["created_at"])),
        )  # fmt: skip


class PriceChangeStore(Protocol):
    def versions(self, plan: str, market: str) -> list[ScheduledPrice]:
        """The scheduled versions (2 and up) of one (plan, market), oldest first."""
        ...

    def create_all(self, changes: Sequence[ScheduledPrice]) -> None:
        """Create every one or none (an existing id raises :class:`PriceChangeRefused`)."""
        ...

    def get(self, change_id: str) -> ScheduledPrice | None: ...

    def all(self) -> list[ScheduledPrice]: ...


def change_id_for(plan: str, market: str, version: int) -> str:
    return f"{plan}:{market}:v{version}"


def plan_versions(
    catalog: Catalog, plan: str, market: str, scheduled: Sequence[ScheduledPrice]
) -> list[tuple[int, Money, datetime | None]]:
    """Every version of a price: (version, price, effective from; None for the catalog's)."""
    first = (1, catalog.price(plan, market), None)
    return [first, *((s.version, s.price, s.effective_at) for s in scheduled)]


def validate_rows(
    rows: Sequence[PriceChangeRow],
    catalog: Catalog,
    now: datetime,
    existing: Callable[[str, str], list[ScheduledPrice]],
) -> list[ScheduledPrice]:
    """The versions ``rows`` schedule, or :class:`PriceChangeRefused` listing every problem."""
    problems: list[str] = []
    out: list[ScheduledPrice] = []
    taken: dict[tuple[str, str], list[ScheduledPrice]] = {}
    if not rows:
        raise PriceChangeRefused(["no price changes given"])
    for n, row in enumerate(rows, start=1):
        where = f"{row.source or f'row {n}'}: " if len(rows) > 1 or row.source else ""
        try:
            found = _one(row, catalog, now, existing, taken)
        except _Problem as exc:
            problems.append(f"{where}{exc}")
            continue
        out.append(found)
        taken.setdefault((found.plan, found.market), []).append(found)
    if problems:
        raise PriceChangeRefused(problems)
    return out


class _Problem(Exception):
    pass


def _one(
    row: PriceChangeRow,
    catalog: Catalog,
    now: datetime,
    existing: Callable[[str, str], list[ScheduledPrice]],
    taken: dict[tuple[str, str], list[ScheduledPrice]],
) -> ScheduledPrice:
    if row.plan not in catalog.plans:
        raise _Problem(f"unknown plan {row.plan!r} (known: {', '.join(sorted(catalog.plans))})")
    code = row.market.strip().upper()
    if code not in catalog.markets:
        raise _Problem(f"unknown market {row.market!r}")
    market = catalog.markets[code]
    try:
        current = catalog.price(row.plan, code)
    except DomainError as exc:
        raise _Problem(f"plan {row.plan} is not sold in {code}") from exc
    try:
        price = Money.of(row.amount.strip(), market.currency)
    except InvalidMoney as exc:
        raise _Problem(f"amount {row.amount!r}: {exc}") from exc
    if price.amount <= 0:
        raise _Problem(f"amount {row.amount!r} must be positive")
    effective = ensure_utc(row.effective_at, "effective_at")
    earliest = now + timedelta(days=market.price_notice_days)
    if effective < earliest:
        raise _Problem(
            f"effective {effective.isoformat()} is too soon: {code} subscribers get "
            f"{market.price_notice_days} days' notice, so the earliest is {earliest.isoformat()}"
        )
    before = [*existing(row.plan, code), *taken.get((row.plan, code), [])]
    if any(v.effective_at == effective for v in before):
        raise _Problem(
            f"{row.plan} in {code} already has a price change at {effective.isoformat()}"
        )
    latest = max(before, key=lambda v: v.version).price if before else current
    if price == latest:
        raise _Problem(f"{row.plan} in {code} already costs {price}")
    version = max((v.version for v in before), default=1) + 1
    return ScheduledPrice(
        change_id=change_id_for(row.plan, code, version), plan=row.plan, market=code,
        version=version, price=price, effective_at=effective,
        notice_days=market.price_notice_days, consent_required=market.price_consent_required,
        created_at=now,
    )  # fmt: skip
