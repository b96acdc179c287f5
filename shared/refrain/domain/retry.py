"""When to retry a failed renewal: the policies, and the rules every one of them obeys.

A :class:`RetryPolicy` proposes the next attempt for one decline (its ``propose``); it
never schedules anything itself. :func:`schedule` asks it and then holds the proposal
to the rules no policy may break, so a new policy (a trained model scoring candidate
times) cannot break them either:

* **networks**: never retry a decline the network says never to retry (Visa
  category 1; Mastercard merchant advice codes 03 and 21; any hard decline), and at
  most 15 retries in 30 days (Visa, categories 2-4; the whole dunning window is
  30 days, so every retry of the period counts);
* **the fixed schedule's budget**: never more retries in a period than
  ``DunningPolicy.retry_offsets`` holds (the experiment's guardrail is attempts per
  failed renewal);
* **the windows**: strictly after the failure and before the account hold is over.

A proposal that breaks one gives no retry (``at`` None, ``reason`` says which rule):
refusing is always safe, the grace and hold clocks still run.

Versioned: each decision names the policy and version that took it (``fixed/1``,
``smart/1``); it rides the ``payment.failed`` event and the charge log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Final, Protocol

from refrain.domain.declines import Decline
from refrain.domain.dunning import DunningPolicy

__all__ = [
    "FIXED",
    "NETWORK_MAX_RETRIES_30D",
    "FixedRetry",
    "RetryContext",
    "RetryDecision",
    "RetryPolicy",
    "context_for",
    "network_forbids",
    "schedule",
]

FIXED: Final = "fixed"
NETWORK_MAX_RETRIES_30D: Final = 15  # Visa, categories 2-4
NEVER_RETRY_ADVICE: Final = frozenset({"03", "21"})  # Mastercard: do not try again
NEVER_RETRY_CATEGORY: Final = 1  # Visa: issuer will never approve


@dataclass(frozen=True, slots=True)
class RetryContext:
    """What is known when a renewal attempt has just failed (all times UTC-aware)."""

    decline: Decline
    anchor: datetime  # the renewal date the period's retries are anchored on
    failed_at: datetime  # this failure
    retries_made: int  # retries already made in this period (the first attempt excluded)
    budget: int  # retries the fixed schedule allows in a period
    market: str
    zone: tzinfo  # the market's zone: "local time" for payday and time-of-day rules
    grace_until: datetime
    hold_until: datetime

    @property
    def local_failed_at(self) -> datetime:
        return self.failed_at.astimezone(self.zone)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    at: datetime | None  # None: no automatic retry
    policy: str  # name/version, e.g. "smart/1"
    reason: str  # why (for the log line): "scheduled", "network: ...", "budget spent", ...


class RetryPolicy(Protocol):
    """Proposes the next attempt; :func:`schedule` enforces the rules on the proposal."""

    @property
    def version(self) -> str: ...

    def propose(self, ctx: RetryContext) -> datetime | None: ...


def network_forbids(decline: Decline) -> str | None:
    """Why the network forbids any retry of this decline, or None."""
    if decline.network_category == NEVER_RETRY_CATEGORY:
        return "network: Visa category 1, never retry"
    if decline.advice_code is not None and decline.advice_code.strip() in NEVER_RETRY_ADVICE:
        return f"network: Mastercard advice code {decline.advice_code.strip()}, never retry"
    if decline.hard:
        return "hard decline: waits for a new payment method"
    return None


def schedule(policy: RetryPolicy, ctx: RetryContext) -> RetryDecision:
    """The policy's proposal, if it keeps every rule; else no retry, and why."""
    forbidden = network_forbids(ctx.decline)
    if forbidden:
        return RetryDecision(None, policy.version, forbidden)
    if ctx.retries_made >= min(ctx.budget, NETWORK_MAX_RETRIES_30D):
        return RetryDecision(None, policy.version, "budget spent")
    at = policy.propose(ctx)
    if at is None:
        return RetryDecision(None, policy.version, "no retry proposed")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{policy.version} proposed a naive time")
    at = at.astimezone(UTC)
    if at <= ctx.failed_at or at >= ctx.hold_until:
        return RetryDecision(None, policy.version, "proposal outside the dunning window")
    return RetryDecision(at, policy.version, "scheduled")


@dataclass(frozen=True, slots=True)
class FixedRetry:
    """Today's schedule: days 1, 3, 5, 7, 14, 21 after the renewal, at its hour."""

    dunning: DunningPolicy
    version: str = f"{FIXED}/1"

    def propose(self, ctx: RetryContext) -> datetime | None:
        return self.dunning.next_retry_at(ctx.anchor, ctx.failed_at)


def context_for(
    *,
    decline: Decline,
    anchor: datetime,
    failed_at: datetime,
    failed_attempts: int,
    market: str,
    zone: tzinfo,
    dunning: DunningPolicy,
    grace_until: datetime | None = None,
    hold_until: datetime | None = None,
) -> RetryContext:
    """The context of a renewal's ``failed_attempts``-th failure in its period."""
    return RetryContext(
        decline=decline,
        anchor=anchor,
        failed_at=failed_at,
        retries_made=max(0, failed_attempts - 1),
        budget=len(dunning.retry_offsets),
        market=market,
        zone=zone,
        grace_until=grace_until or dunning.grace_until(anchor),
        hold_until=hold_until or dunning.hold_until(anchor),
    )
