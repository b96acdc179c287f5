"""Why renewals fail and when a retry would succeed: the simulator's ground truth.

Only the simulator knows this model; Refrain's dunning policies see what a gateway
tells them (a decline code, a category) and must learn the rest. Shares and behaviours
follow public figures: about 70% of declines are insufficient funds or "do not honor"
(Adyen); insufficient-funds recoveries cluster after local paydays; technical errors
recover within hours; expired or replaced cards recover only once the customer updates
the card (about 6% of cards a month, more after a notice); hard declines (stolen, lost,
closed account; Visa category 1, Mastercard advice codes 03 and 21) never recover and
must not be retried.

Deterministic per seed, with common random numbers: whether an attempt at a given hour
succeeds is a function of (seed, subscription, hour), not of the order of calls, so two
dunning policies trying the same subscription at the same hour see the same outcome.

Paydays and the issuer's time zone come from the runtime's public calendar
(``refrain.domain.paydays``), which the ``smart`` retry policy reads too: it knows the
paydays exactly, an optimistic assumption bench/dunning.py states.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from refrain.domain.declines import DeclineCategory
from refrain.domain.paydays import PAYDAYS, market_zone, paydays

__all__ = ["PAYDAYS", "REASONS", "DeclineModel", "DeclineReason", "Recovery", "draw", "paydays"]


class Recovery(StrEnum):
    PAYDAY = "payday"  # funds arrive on the local payday
    HOURS = "hours"  # a technical error that passes
    DAILY = "daily"  # the issuer says no today, maybe yes another day
    CARD_UPDATE = "card_update"  # only a new card helps
    NEVER = "never"  # hard decline: never retry


@dataclass(frozen=True, slots=True)
class DeclineReason:
    code: str
    category: DeclineCategory
    share: float
    visa_category: int  # 1: never approve; 2: may approve later; 3: data quality; 4: generic
    mastercard_advice: str | None  # "03"/"21": do not try again
    recovery: Recovery

    @property
    def hard(self) -> bool:
        return self.recovery is Recovery.NEVER


REASONS: tuple[DeclineReason, ...] = (
    DeclineReason("insufficient_funds", DeclineCategory.INSUFFICIENT_FUNDS, 0.45, 2, "02",
                  Recovery.PAYDAY),
    DeclineReason("do_not_honor", DeclineCategory.DO_NOT_HONOR, 0.25, 4, None, Recovery.DAILY),
    DeclineReason("processing_error", DeclineCategory.PROCESSING_ERROR, 0.08, 2, "02",
                  Recovery.HOURS),
    DeclineReason("expired_card", DeclineCategory.EXPIRED_CARD, 0.12, 3, "01",
                  Recovery.CARD_UPDATE),
    DeclineReason("authentication_required", DeclineCategory.AUTHENTICATION_REQUIRED, 0.04, 3,
                  None, Recovery.CARD_UPDATE),
    DeclineReason("stolen_card", DeclineCategory.FRAUD_OR_STOLEN, 0.03, 1, "03", Recovery.NEVER),
    DeclineReason("account_closed", DeclineCategory.OTHER, 0.03, 1, "21", Recovery.NEVER),
)  # fmt: skip

MONTHLY_CARD_UPDATE = 0.06  # share of stale cards replaced in a month, with no prompting
NOTICE_UPDATE = 0.30  # share of customers who update their card within a week of a notice


def draw(*parts: object) -> float:
    """A uniform draw in [0, 1) that depends only on its parts (common random numbers)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class DeclineModel:
    seed: int

    def reason(self, subscription_id: str, period: int) -> DeclineReason:
        """Why this subscription's renewal for ``period`` fails (when it fails)."""
        u, acc = draw(self.seed, "reason", subscription_id, period), 0.0
        for reason in REASONS:
            acc += reason.share
            if u < acc:
                return reason
        return REASONS[-1]

    def card_updated_by(
        self, subscription_id: str, failed_at: datetime, at: datetime, noticed: bool
    ) -> bool:
        """Has the customer put in a new card since the failure? (notice: 30% in a week)"""
        days = (at - failed_at).total_seconds() / 86400
        if days <= 0:
            return False
        u = draw(self.seed, "card", subscription_id, failed_at.isoformat())
        chance: float = 1.0 - (1.0 - MONTHLY_CARD_UPDATE) ** (days / 30)
        if noticed:
            chance = max(chance, NOTICE_UPDATE * min(1.0, days / 7))
        return u < chance

    def success_chance(
        self, reason: DeclineReason, market: str, failed_at: datetime, at: datetime
    ) -> float:
        """The chance a retry at ``at`` succeeds (card unchanged)."""
        if reason.recovery in (Recovery.NEVER, Recovery.CARD_UPDATE):
            return 0.0
        hours = (at - failed_at).total_seconds() / 3600
        local = at.astimezone(market_zone(market))  # issuer time ~ the market's time
        night = 0.6 if 1 <= local.hour < 6 else 1.0
        if reason.recovery is Recovery.HOURS:
            return min(0.9, 0.15 * hours) * night
        if reason.recovery is Recovery.DAILY:
            return 0.12 * night
        since = min((local.date() - d).days for d in _recent_paydays(market, local.date()))
        return (0.55 if 0 <= since <= 2 else 0.05) * night

    def attempt_succeeds(
        self,
        subscription_id: str,
        reason: DeclineReason,
        market: str,
        failed_at: datetime,
        at: datetime,
        *,
        noticed: bool = False,
    ) -> bool:
        """The outcome of a retry at ``at``: the same for every policy that tries then."""
        if reason.hard:
            return False
        hour = at.replace(minute=0, second=0, microsecond=0)
        u = draw(self.seed, "attempt", subscription_id, failed_at.isoformat(), hour.isoformat())
        if reason.recovery is Recovery.CARD_UPDATE:
            return self.card_updated_by(subscription_id, failed_at, at, noticed) and u < 0.9
        return u < self.success_chance(reason, market, failed_at, at)


def _recent_paydays(market: str, day: date) -> list[date]:
    """Paydays on or before ``day`` in this month and the previous one."""
    previous = day.replace(day=1) - timedelta(days=1)
    candidates = paydays(market, day.year, day.month) + paydays(
        market, previous.year, previous.month
    )
    return [d for d in candidates if d <= day]
