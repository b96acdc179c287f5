"""Failed renewals recovered by retry policy, on the simulator's decline model.

Usage: .venv/bin/python bench/dunning.py [--subscriptions 20000] [--months 6] [--seed 7]

A population of monthly subscriptions across markets renews for ``--months`` months;
about 8% of renewals fail (a typical first-attempt failure rate), each with a reason
drawn from ``refrain_tools.simulator.decline_model``, whose outcomes are common random
numbers: every policy that retries a subscription at the same hour sees the same
answer. Both policies are the shipped code, driven as the state machine drives them
(``refrain.domain.smart_retry.decide_retry`` after each failed attempt, the decline
carrying the network's category and advice code as a gateway reports them):

- ``fixed``: Refrain's schedule (``DEFAULT_POLICY``: days 1, 3, 5, 7, 14, 21 after the
  renewal, at the renewal's hour);
- ``smart``: ``SmartRetry`` with its payday-aware priors (``PaydayScorer``): the
  period's retries go to the best-scoring local times, no more of them than ``fixed``.

Both go through the same network rules (never a retry of Visa category 1 or Mastercard
advice 03/21, at most 15 in 30 days) and windows. Optimistic for ``smart``: the
simulator's paydays are the calendar the policy reads (``refrain.domain.paydays``).

Prints, per policy: failed renewals, recovered (count, revenue), attempts per failed
renewal, median and mean days to recovery, and network-rule violations counted against
the simulator's own truth (retries of a decline the network says never to retry, more
than the fixed budget or 15 in 30 days, outside the window), which must be 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from refrain.domain.declines import Decline  # noqa: E402
from refrain.domain.dunning import DEFAULT_POLICY  # noqa: E402
from refrain.domain.smart_retry import decide_retry  # noqa: E402
from refrain_tools.simulator.decline_model import (  # noqa: E402
    DeclineModel,
    DeclineReason,
    draw,
)

MARKETS = ("SE", "DE", "GB", "US", "JP", "BR")
PRICE = 13900  # minor units per renewal (the comparison is relative)
FAILURE_RATE = 0.08
WINDOW = DEFAULT_POLICY.grace_period + DEFAULT_POLICY.hold_period
BUDGET = len(DEFAULT_POLICY.retry_offsets)
START = datetime(2027, 1, 1, tzinfo=UTC)
POLICIES = ("fixed", "smart")
RECORDED_AFTER = timedelta(seconds=3)  # a failure is recorded just after its attempt


@dataclass(frozen=True)
class Failure:
    subscription: str
    market: str
    reason: DeclineReason
    at: datetime  # the renewal that failed

    @property
    def decline(self) -> Decline:
        """What the gateway reports: the category, the code and the network's advice."""
        r = self.reason
        return Decline(r.category, r.hard, r.code, "sim", r.visa_category, r.mastercard_advice)

    @property
    def never_retry(self) -> bool:
        """The network's rule, from the simulator's own truth."""
        r = self.reason
        return r.hard or r.visa_category == 1 or r.mastercard_advice in ("03", "21")


def attempts(failure: Failure, variant: str) -> list[datetime]:
    """The retries the variant's shipped policy schedules if every one fails."""
    times: list[datetime] = []
    failed_at = failure.at + RECORDED_AFTER
    for failed in range(1, 100):
        decision = decide_retry(variant, DEFAULT_POLICY, decline=failure.decline,
                                anchor=failure.at, failed_at=failed_at,
                                failed_attempts=failed, market=failure.market)  # fmt: skip
        if decision.at is None:
            return times
        times.append(decision.at)
        failed_at = decision.at + RECORDED_AFTER
    raise AssertionError("a policy never stopped")


def violations(failure: Failure, times: list[datetime]) -> int:
    if failure.never_retry:
        return len(times)
    late = sum(1 for at in times if not failure.at < at < failure.at + WINDOW)
    return late + max(0, len(times) - min(BUDGET, 15))


def failures(model: DeclineModel, subscriptions: int, months: int) -> list[Failure]:
    found = []
    for i in range(subscriptions):
        sid = f"sub_{i}"
        market = MARKETS[i % len(MARKETS)]
        anchor = START + timedelta(days=i % 28, hours=(i * 7) % 24)
        for month in range(months):
            if draw(model.seed, "fails", sid, month) < FAILURE_RATE:
                at = anchor + timedelta(days=30 * month)
                found.append(Failure(sid, market, model.reason(sid, month), at))
    return found


def run(model: DeclineModel, failed: list[Failure], variant: str) -> dict[str, float]:
    recovered = tried = broken = 0
    days: list[float] = []
    for failure in failed:
        times = attempts(failure, variant)
        broken += violations(failure, times)
        for at in times:  # stop at the first success, as dunning does
            tried += 1
            ok = model.attempt_succeeds(failure.subscription, failure.reason, failure.market,
                                        failure.at, at, noticed=True)  # fmt: skip
            if ok:
                recovered += 1
                days.append((at - failure.at).total_seconds() / 86400)
                break
    n = len(failed)
    return {
        "failed": n, "recovered": recovered, "revenue": recovered * PRICE / 100,
        "attempts_per_failure": tried / n if n else 0.0,
        "median_days": statistics.median(days) if days else float("nan"),
        "mean_days": statistics.fmean(days) if days else float("nan"),
        "violations": broken,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    model = DeclineModel(args.seed)
    failed = failures(model, args.subscriptions, args.months)
    results = {variant: run(model, failed, variant) for variant in POLICIES}
    print(f"{args.subscriptions} subscriptions x {args.months} months, seed {args.seed}")
    print(f"{'policy':<8} failed  recovered  revenue recovered  attempts/failure  "
          "median days  mean days  violations")  # fmt: skip
    for name, r in results.items():
        print(f"{name:<8} {r['failed']:6d}  {r['recovered']:9d}  {r['revenue']:17,.0f}  "
              f"{r['attempts_per_failure']:16.2f}  {r['median_days']:11.1f}  "
              f"{r['mean_days']:9.1f}  {r['violations']:10d}")  # fmt: skip
    fixed, smart = results["fixed"], results["smart"]
    lift = 100 * (smart["revenue"] / fixed["revenue"] - 1)
    more = smart["attempts_per_failure"] - fixed["attempts_per_failure"]
    print(f"smart vs fixed: {lift:+.1f}% revenue recovered, {more:+.2f} attempts per failure")


if __name__ == "__main__":
    main()
