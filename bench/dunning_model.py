"""Cost of the dunning model at run time: load once, score each candidate retry time.

Usage: .venv/bin/python bench/dunning_model.py [--model PATH] [--rounds 20000]

Without --model, trains one on a simulated history first (tooling, scikit-learn). Prints
the artifact's size, the load (parse + validate + sha256) time, the first-import cost of
the runtime package, and per-score times: the whole ``score(ctx)`` (features in the
market's zone, paydays, trees) and the trees alone (``score_vector``); and ``best_time``
over the 24 hourly candidates of a day.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from refrain.dunning_model import AttemptContext, best_time, encode, load_model  # noqa: E402


def _artifact(path: str | None) -> bytes:
    if path:
        return Path(path).read_bytes()
    from refrain_tools.models.dataset import assemble
    from refrain_tools.models.history import simulate_signals
    from refrain_tools.models.train import export, fit, split

    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = sorted((r.model_dump() for r in simulate_signals(7, 10_000, 6, start)),
                  key=lambda r: (r["subscription_key"], r["sequence"]))  # fmt: skip
    train, _ = split(assemble(rows, start, datetime(2026, 9, 1, tzinfo=UTC)))
    clf, names = fit(train)
    return export(clf, names, version=1)


def _per_call_us(call: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(median, p99) microseconds per call over batches of 100."""
    samples = []
    for _ in range(max(1, rounds // 100)):
        t = time.perf_counter()
        for _ in range(100):
            call()
        samples.append((time.perf_counter() - t) / 100 * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="model.json (default: train one)")
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    data = _artifact(args.model)
    loads = []
    for _ in range(20):
        t = time.perf_counter()
        model = load_model(data)
        loads.append((time.perf_counter() - t) * 1e3)
    nodes = sum(len(tree[0]) for tree in model.trees)
    import_ms = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import refrain.dunning_model"],
        capture_output=True, text=True, check=True, cwd=ROOT / "shared",
    ).stderr.splitlines()[-1].split("|")[1].strip()  # fmt: skip
    failed = datetime(2027, 3, 1, 7, tzinfo=UTC)
    ctx = AttemptContext("insufficient_funds", 3, "SE", failed, failed + timedelta(days=3))
    names = encode(ctx)
    vector = [names.get(n, 0.0) for n in model.features]
    score = _per_call_us(lambda: model.score(ctx), args.rounds)
    trees = _per_call_us(lambda: model.score_vector(vector), args.rounds)
    day = [failed + timedelta(days=2, hours=h) for h in range(24)]
    pick = _per_call_us(lambda: best_time(model, day, lambda at: AttemptContext(
        "insufficient_funds", 3, "SE", failed, at)), args.rounds // 24)  # fmt: skip
    print(
        f"artifact: {len(data) / 1024:.0f} KiB, {len(model.trees)} trees, {nodes} nodes, "
        f"{len(model.features)} features"
    )
    print(f"load (parse + validate + sha256): median {statistics.median(loads):.1f} ms")
    print(f"import refrain.dunning_model (cumulative, cold interpreter): {import_ms} us")
    print(f"{'per call':<34}{'median us':>10}{'p99 us':>9}")
    print(f"{'score(ctx): features + trees':<34}{score[0]:10.1f}{score[1]:9.1f}")
    print(f"{'score_vector: trees only':<34}{trees[0]:10.1f}{trees[1]:9.1f}")
    print(f"{'best_time over 24 candidates':<34}{pick[0]:10.1f}{pick[1]:9.1f}")


if __name__ == "__main__":
    main()
