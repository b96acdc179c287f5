"""The ``smart`` retry policy: spend the period's retries on the times most likely to work.

Candidates are the local mornings, middays and evenings of every day left before the
account hold ends, plus a few hours after the failure (a technical error passes).
A :class:`Scorer` gives each candidate a chance of success; the policy picks, best
first, as many candidates as it has retries left, 20 hours apart (two hours for a
processing error) from each other and from the attempt that just failed, and proposes
the earliest. Each failure recomputes the plan with what is left, so the retries go
where the scores are highest, in time order.

The scorer today is :class:`PaydayScorer`, priors from public figures (issue 21):
insufficient funds recover on and just after local paydays; processing errors within
hours; do-not-honor and unknown declines about evenly any day; a stale card only after
the customer replaced it, likelier as days pass after the notice; issuers approve less
at night. A trained model (label: attempt succeeded) replaces it by implementing
``score``; :func:`refrain.domain.retry.schedule` still enforces the network rules, the
fixed schedule's budget and the windows on whatever it proposes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Protocol

from refrain.domain.declines import Decline, DeclineCategory
from refrain.domain.dunning import DunningPolicy
from refrain.domain.paydays import market_zone, paydays_between
from refrain.domain.retry import (
    FixedRetry,
    RetryContext,
    RetryDecision,
    RetryPolicy,
    context_for,
    schedule,
)

__all__ = ["SMART", "PaydayScorer", "Scorer", "SmartRetry", "decide_retry", "policy_for"]

SMART: Final = "smart"
LOCAL_SLOTS: Final = (time(9), time(13), time(19))
SOON: Final = tuple(timedelta(hours=h) for h in (2, 6, 12))
_C = DeclineCategory


class Scorer(Protocol):
    """The chance that an attempt at ``at`` succeeds, given the context (0..1)."""

    def score(self, ctx: RetryContext, at: datetime) -> float: ...


@dataclass(frozen=True, slots=True)
class PaydayScorer:
    """Hand-set priors; the bar a trained scorer has to beat."""

    payday_days: int = 2  # money stays a couple of days after payday
    on_payday: float = 0.5
    off_payday: float = 0.05
    any_day: float = 0.12
    card_notice_days: float = 7.0  # customers who update do it within a week of a notice
    card_updated: float = 0.3
    night: float = 0.6  # local 01:00-06:00

    def score(self, ctx: RetryContext, at: datetime) -> float:
        local = at.astimezone(ctx.zone)
        factor = self.night if 1 <= local.hour < 6 else 1.0
        category = ctx.decline.category
        if category is _C.PROCESSING_ERROR:
            hours = (at - ctx.failed_at).total_seconds() / 3600
            return min(0.9, 0.15 * hours) * factor
        if category is _C.INSUFFICIENT_FUNDS:
            return self._payday(ctx, local.date()) * factor
        if category in (_C.EXPIRED_CARD, _C.AUTHENTICATION_REQUIRED):
            days = (at - ctx.anchor).total_seconds() / 86400
            return self.card_updated * min(1.0, days / self.card_notice_days) * factor
        return self.any_day * factor

    def _payday(self, ctx: RetryContext, day: date) -> float:
        for payday in paydays_between(ctx.market, day - timedelta(days=self.payday_days), day):
            if 0 <= (day - payday).days <= self.payday_days:
                return self.on_payday
        return self.off_payday


@dataclass(frozen=True, slots=True)
class SmartRetry:
    """Scores candidate times and proposes the earliest of the best it can afford."""

    dunning: DunningPolicy
    scorer: Scorer = field(default_factory=PaydayScorer)
    version: str = f"{SMART}/1"
    spacing: timedelta = timedelta(hours=20)
    spacing_processing: timedelta = timedelta(hours=2)
    floor: float = 0.03  # below this chance an attempt is not worth its cost

    def propose(self, ctx: RetryContext) -> datetime | None:
        left = ctx.budget - ctx.retries_made
        if left <= 0:
            return None
        gap = (
            self.spacing_processing
            if ctx.decline.category is _C.PROCESSING_ERROR
            else (self.spacing)
        )
        earliest = ctx.failed_at + gap  # spaced from the attempt that just failed too
        scored = sorted(
            ((score, at) for at in self.candidates(ctx)
             if at >= earliest and (score := self.scorer.score(ctx, at)) >= self.floor),
            key=lambda pair: (-pair[0], pair[1]),
        )  # fmt: skip
        chosen: list[datetime] = []
        for _, at in scored:
            if all(abs(at - other) >= gap for other in chosen):
                chosen.append(at)
                if len(chosen) == left:
                    break
        return min(chosen) if chosen else None

    def candidates(self, ctx: RetryContext) -> list[datetime]:
        """Times after the failure and before the hold ends (the schedule re-checks)."""
        start, end = ctx.failed_at, ctx.hold_until
        found = {start + delta for delta in SOON}
        day = ctx.local_failed_at.date()
        last = end.astimezone(ctx.zone).date()
        while day <= last:
            for slot in LOCAL_SLOTS:
                local = datetime.combine(day, slot, tzinfo=ctx.zone)
                found.add(local.astimezone(UTC))
            day += timedelta(days=1)
        return sorted(at for at in found if start < at < end)


def policy_for(variant: str | None, dunning: DunningPolicy) -> RetryPolicy:
    """The retry policy a variant of the dunning experiment runs (none or ``fixed``: fixed)."""
    return SmartRetry(dunning) if variant == SMART else FixedRetry(dunning)


def decide_retry(
    variant: str | None,
    dunning: DunningPolicy,
    *,
    decline: Decline,
    anchor: datetime,
    failed_at: datetime,
    failed_attempts: int,
    market: str,
    windows: tuple[datetime | None, datetime | None] = (None, None),
) -> RetryDecision:
    """The next attempt after a renewal's ``failed_attempts``-th failure, by the variant's
    policy, in the market's local time, under the rules of :func:`schedule`.

    ``windows``: the running (grace_until, hold_until); None: from the dunning policy."""
    grace_until, hold_until = windows
    ctx = context_for(
        decline=decline, anchor=anchor, failed_at=failed_at, failed_attempts=failed_attempts,
        market=market, zone=market_zone(market), dunning=dunning, grace_until=grace_until,
        hold_until=hold_until,
    )  # fmt: skip
    return schedule(policy_for(variant, dunning), ctx)
