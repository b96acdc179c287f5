"""What a subscription waits for: a downgrade at the period end, an upgrade's charge, a
price change its subscriber was told about. Immutable values with their stored form
(JSON-safe: ISO-8601 strings and int minor units), kept on refrain.domain.subscription."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from refrain.domain.clock import ensure_utc
from refrain.domain.money import Money

__all__ = ["PendingPlan", "PendingPriceChange", "PendingUpgrade", "parse_time"]


def parse_time(value: Any) -> datetime | None:
    """A stored ISO-8601 time, in UTC (None stays None)."""
    if value is None:
        return None
    return ensure_utc(datetime.fromisoformat(value))


def _iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class PendingPlan:
    """A downgrade waiting for the period end."""

    plan: str
    plan_rank: int
    interval_months: int
    price: Money

    def to_dict(self) -> dict[str, Any]:
        """The plan a pending change moves to, as stored (a downgrade's and an upgrade's)."""
        return {
            "plan": self.plan,
            "plan_rank": self.plan_rank,
            "interval_months": self.interval_months,
            "price": self.price.to_dict(),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> PendingPlan:
        return cls(**_plan_fields(value))


def _plan_fields(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "plan": value["plan"],
        "plan_rank": int(value["plan_rank"]),
        "interval_months": int(value["interval_months"]),
        "price": Money.from_dict(value["price"]),
    }


@dataclass(frozen=True, slots=True)
class PendingUpgrade:
    """An upgrade waiting for its proration charge: applied when the charge succeeds.

    ``period_start``/``period_end`` are set when the interval changes (a new period
    starts at the request and the unused time was credited in ``amount``).
    """

    plan: str
    plan_rank: int
    interval_months: int
    price: Money
    charge_id: str
    amount: Money
    requested_at: datetime
    period_start: datetime | None = None
    period_end: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **PendingPlan(self.plan, self.plan_rank, self.interval_months, self.price).to_dict(),
            "charge_id": self.charge_id,
            "amount": self.amount.to_dict(),
            "requested_at": self.requested_at.isoformat(),
            "period_start": _iso_or_none(self.period_start),
            "period_end": _iso_or_none(self.period_end),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> PendingUpgrade:
        requested_at = parse_time(value["requested_at"])
        assert requested_at is not None
        return cls(
            **_plan_fields(value),
            charge_id=str(value["charge_id"]),
            amount=Money.from_dict(value["amount"]),
            requested_at=requested_at,
            period_start=parse_time(value.get("period_start")),
            period_end=parse_time(value.get("period_end")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingPriceChange:
    """A scheduled price the subscriber was told about (refrain.domain.price_changes).

    ``applies_from``: the first billing anchor charged ``price`` (notice given, effective).
    """

    change_id: str
    price: Money
    effective_at: datetime
    applies_from: datetime
    noticed_at: datetime
    consent_required: bool = False
    consented_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "change_id": self.change_id,
            "price": self.price.to_dict(),
            "effective_at": self.effective_at.isoformat(),
            "applies_from": self.applies_from.isoformat(),
            "noticed_at": self.noticed_at.isoformat(),
            "consent_required": self.consent_required,
            "consented_at": _iso_or_none(self.consented_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingPriceChange:
        effective, applies, noticed = (parse_time(data[k]) for k in _PRICE_CHANGE_TIMES)
        assert effective is not None and applies is not None and noticed is not None
        return cls(
            change_id=str(data["change_id"]), price=Money.from_dict(data["price"]),
            effective_at=effective, applies_from=applies, noticed_at=noticed,
            consent_required=bool(data.get("consent_required")),
            consented_at=parse_time(data.get("consented_at")),
        )  # fmt: skip


_PRICE_CHANGE_TIMES: Final = ("effective_at", "applies_from", "noticed_at")
