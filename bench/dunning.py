"""Failed renewals recovered by retry policy, on the simulator's decline model.

Usage: .venv/bin/python bench/dunning.py [--subscriptions 20000] [--months 6] [--seed 7]

A population of monthly subscriptions across markets renews for ``--months`` months;
about 8% of renewals fail (a typical first-attempt failure rate), each with a reason
drawn from ``refrain_tools.simulator.decline_model``, whose outcomes are common random
numbers: every policy that retries a subscription at the same hour sees the same
answer. Each policy is run on the same failures:

- ``fixed``: Refrain's schedule today (``DEFAULT_POLICY``: days 1, 3, 5, 7, 14, 21
  after the renewal, at the renewal's hour), no retry after a hard decline;
- ``payday-aware``: a hand-written rule to set the bar for a trained policy (issue 21),
  with no more attempts than ``fixed``: insufficient funds retried the morning after each
  local payday in the window, technical errors two hours later, stale cards after the
  customer's likely update, the rest on the fixed days; never after a hard decline.

Prints, per policy: failed renewals, recovered (count, revenue), attempts per failed
renewal, median days to recovery, and network-rule violations (retries of a decline
the network says never to retry), which must be 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from refrain.domain.dunning import DEFAULT_POLICY  # noqa: E402
from refrain_tools.simulator.decline_model import (  # noqa: E402
    DeclineModel,
    DeclineReason,
    Recovery,
    draw,
    paydays,
)

MARKETS = ("SE", "DE", "GB", "US", "JP", "BR")
PRICE = 13900  # minor units per renewal (the comparison is relative)
FAILURE_RATE = 0.08
WINDOW = DEFAULT_POLICY.grace_period + DEFAULT_POLICY.hold_period
START = datetime(2027, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Failure:
    subscription: str
    market: str
    reason: DeclineReason
    at: datetime  # the renewal that failed


Policy = Callable[[Failure], list[datetime]]


def fixed(failure: Failure) -> list[datetime]:
    if failure.reason.hard:
        return []
    return [failure.at + offset for offset in DEFAULT_POLICY.retry_offsets]


def payday_aware(failure: Failure) -> list[datetime]:
    if failure.reason.hard:
        return []
    budget = len(DEFAULT_POLICY.retry_offsets)
    end = failure.at + WINDOW
    if failure.reason.recovery is Recovery.HOURS:
        times = [failure.at + timedelta(hours=2), *fixed(failure)]
    elif failure.reason.recovery is Recovery.PAYDAY:
        days = {d for m in (0, 1) for d in _paydays_after(failure.market, failure.at, m)}
        times = [datetime(d.year, d.month, d.day, 9, tzinfo=UTC) + timedelta(days=1)
                 for d in sorted(days)]  # fmt: skip
        times += fixed(failure)
    elif failure.reason.recovery is Recovery.CARD_UPDATE:
        times = [failure.at + timedelta(days=d, hours=2) for d in (2, 4, 7, 10, 14, 21)]
    else:
        times = fixed(failure)
    chosen = sorted({t for t in times if failure.at < t < end})
    return chosen[:budget]


def _paydays_after(market: str, at: datetime, months_ahead: int) -> list:  # type: ignore[type-arg]
    month = at.month + months_ahead
    year = at.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return [d for d in paydays(market, year, month) if d >= at.date()]


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


def run(model: DeclineModel, failed: list[Failure], policy: Policy) -> dict[str, float]:
    recovered = attempts = violations = 0
    days: list[float] = []
    for failure in failed:
        for at in policy(failure):
            attempts += 1
            if failure.reason.hard:
                violations += 1
            ok = model.attempt_succeeds(failure.subscription, failure.reason, failure.market,
                                        failure.at, at, noticed=True)  # fmt: skip
            if ok:
                recovered += 1
                days.append((at - failure.at).total_seconds() / 86400)
                break
    n = len(failed)
    return {
        "failed": n, "recovered": recovered, "revenue": recovered * PRICE / 100,
        "attempts_per_failure": attempts / n if n else 0.0,
        "median_days": statistics.median(days) if days else float("nan"),
        "violations": violations,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    model = DeclineModel(args.seed)
    failed = failures(model, args.subscriptions, args.months)
    results = {"fixed": run(model, failed, fixed), "payday-aware": run(model, failed, payday_aware)}
    print(f"{args.subscriptions} subscriptions x {args.months} months, seed {args.seed}")
    print(f"{'policy':<14} failed  recovered  revenue recovered  attempts/failure  "
          "median days  violations")  # fmt: skip
    for name, r in results.items():
        print(f"{name:<14} {r['failed']:6d}  {r['recovered']:9d}  {r['revenue']:17,.0f}  "
              f"{r['attempts_per_failure']:16.2f}  {r['median_days']:11.1f}  "
              f"{r['violations']:10d}")  # fmt: skip
    base, other = results["fixed"]["revenue"], results["payday-aware"]["revenue"]
    print(f"payday-aware vs fixed: {100 * (other / base - 1):+.1f}% revenue recovered")


if __name__ == "__main__":
    main()
