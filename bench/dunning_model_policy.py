"""Does the trained model pick better retry times? Fixed days vs model-ranked hours.

Usage: .venv/bin/python bench/dunning_model_policy.py [--subscriptions 5000] [--model PATH]

A model is trained (or loaded) on one simulated population (seed 7) and tried on another
(seed 8), on the simulator's common random numbers. Both policies make at most the fixed
schedule's attempts, one per segment of the dunning window (day 0-1, 1-3, 3-5, 5-7,
7-14, 14-21: the fixed schedule retries at each segment's end); ``model-ranked`` retries
at the segment's hour (3-hourly candidates) the model scores highest, via ``best_time``.
Hard declines are never retried. A sketch of what the model adds to timing, not the
shipped ``smart`` policy, whose rules belong to refrain.domain.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from refrain.domain.dunning import DEFAULT_POLICY  # noqa: E402
from refrain.dunning_model import AttemptContext, DunningModel, best_time, load_model  # noqa: E402
from refrain_tools.models.history import FAILURE_RATE, MARKETS  # noqa: E402
from refrain_tools.simulator.decline_model import DeclineModel, draw  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)


def _model(path: str | None) -> DunningModel:
    if path:
        return load_model(Path(path).read_bytes())
    from refrain_tools.models.dataset import assemble
    from refrain_tools.models.history import simulate_signals
    from refrain_tools.models.train import export, fit

    rows = sorted((r.model_dump() for r in simulate_signals(7, 20_000, 6, START)),
                  key=lambda r: (r["subscription_key"], r["sequence"]))  # fmt: skip
    clf, names = fit(assemble(rows, START, datetime(2026, 9, 1, tzinfo=UTC)))
    return load_model(export(clf, names, version=1))


def _at(base: AttemptContext) -> Callable[[datetime], AttemptContext]:
    """The features_fn best_time wants: the same attempt, at another time."""
    return lambda at: replace(base, at=at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=5_000)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    model, sim = _model(args.model), DeclineModel(8)
    ends = list(DEFAULT_POLICY.retry_offsets)
    starts = [timedelta(hours=1), *ends[:-1]]
    totals = {"fixed": [0, 0], "model-ranked": [0, 0]}  # recovered, attempts
    failures, started = 0, time.perf_counter()
    for i in range(args.subscriptions):
        sid, market = f"sub_8_{i}", MARKETS[i % len(MARKETS)]
        anchor = START + timedelta(days=i % 28, hours=(i * 7) % 24, minutes=(i * 13) % 60)
        for month in range(6):
            if draw(8, "fails", sid, month) >= FAILURE_RATE:
                continue
            failed_at = anchor + timedelta(days=30 * month)
            reason = sim.reason(sid, month)
            failures += 1
            if reason.hard:
                continue
            fixed = [failed_at + end for end in ends]
            ranked = []
            for n, (lo, hi) in enumerate(zip(starts, ends, strict=True), start=2):
                hours = range(int(lo / timedelta(hours=3)), int(hi / timedelta(hours=3)) + 1)
                candidates = [failed_at + timedelta(hours=3 * h) for h in hours]
                base = AttemptContext(reason.category.value, n, market, failed_at, failed_at)
                pick = best_time(model, candidates, _at(base))
                assert pick is not None
                ranked.append(pick[0])
            for name, times in (("fixed", fixed), ("model-ranked", ranked)):
                for at in times:
                    totals[name][1] += 1
                    if sim.attempt_succeeds(sid, reason, market, failed_at, at, noticed=True):
                        totals[name][0] += 1
                        break
    print(f"{args.subscriptions} subscriptions x 6 months (seed 8), {failures} failed renewals, "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    print(f"{'policy':<14}{'recovered':>10}{'rate':>8}{'attempts/failure':>18}")
    for name, (recovered, attempts) in totals.items():
        print(f"{name:<14}{recovered:10d}{recovered / failures:8.1%}{attempts / failures:18.2f}")
    lift = totals["model-ranked"][0] / totals["fixed"][0] - 1
    print(f"model-ranked vs fixed: {100 * lift:+.1f}% recovered")


if __name__ == "__main__":
    main()
