"""Churn export throughput: transform and BigQuery write, API calls, peak memory.

Starts its own local stack on a private port block (or reuses one already
answering there) and stops only what it started. Prints figures, asserts
nothing. Goals: >= 20k signals/s through the transform; <= 1 write call per
500 rows.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.unit.churn.factory import T0, sample_event  # noqa: E402

from refrain.churn.export import ChurnExporter  # noqa: E402
from refrain.churn.pseudonym import Pseudonymizer  # noqa: E402
from refrain.churn.transform import SignalTransformer  # noqa: E402
from refrain.domain.events import EventType, to_pubsub_message  # noqa: E402
from refrain.push_envelope import PushMessage  # noqa: E402
from refrain_tools.stack.config import StackConfig  # noqa: E402
from refrain_tools.stack.manager import StackManager, port_open  # noqa: E402
from refrain_tools.stack.seed import pointed_at  # noqa: E402

N_TRANSFORM = 50_000
N_WRITE = 10_000
PORT_BASE = int(os.environ.get("REFRAIN_BENCH_PORT_BASE", "8900"))
TYPES = [t for t in EventType]


def make_messages(n: int) -> list[PushMessage]:
    from datetime import timedelta

    templates = [sample_event(t) for t in TYPES]
    out = []
    for i in range(n):
        base = templates[i % len(templates)]
        event = base.model_copy(
            update={
                "subscription_id": f"sub_{i % 5000}",
                "sequence": i,
                "event_id": f"sub_{i % 5000}#{i}",
                "occurred_at": T0 - timedelta(minutes=i % 40000),
                "payload": {**base.payload, "account_id": f"acct_{i % 5000}"},
            }
        )
        m = to_pubsub_message(event)
        out.append(PushMessage(m.data, m.attributes, str(i)))
    return out


def bench_transform(messages: list[PushMessage]) -> None:
    exporter = ChurnExporter(SignalTransformer(Pseudonymizer(b"bench-pepper-0123456789")), None)  # type: ignore[arg-type]
    start = time.perf_counter()
    rows = skipped = 0
    for m in messages:
        out = exporter.classify(m)
        if hasattr(out, "signal_id"):
            rows += 1
        else:
            skipped += 1
    elapsed = time.perf_counter() - start
    print(f"transform (parse+validate+map): {len(messages) / elapsed:,.0f} messages/s "
          f"({rows} rows, {skipped} skipped by type)")  # fmt: skip
    transformer = SignalTransformer(Pseudonymizer(b"bench-pepper-0123456789"))
    from refrain.domain.events import from_pubsub_message

    events = [from_pubsub_message(m.data, m.attributes) for m in messages[:20000]]
    start = time.perf_counter()
    for e in events:
        transformer.transform(e)
    elapsed = time.perf_counter() - start
    print(f"transform only (DomainEvent -> SignalRow): {len(events) / elapsed:,.0f} signals/s")


class CallCounter:
    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        inner = client._connection.api_request

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(f"{kwargs.get('method', args[0] if args else '?')} "
                              f"{kwargs.get('path', '')}")  # fmt: skip
            return inner(*args, **kwargs)

        client._connection.api_request = counted


def bench_write(config: StackConfig, messages: list[PushMessage]) -> None:
    from refrain.adapters.bigquery import build_bigquery
    from refrain.adapters.bigquery_signals import SignalWriter

    with pointed_at(config) as settings:
        client = build_bigquery(settings)
        client.query(
            f"DELETE FROM `{settings.project}.refrain_analytics.churn_signals` WHERE TRUE"
        ).result()
        counter = CallCounter(client)
        exporter = ChurnExporter(
            SignalTransformer(Pseudonymizer(b"bench-pepper-0123456789")), SignalWriter(client)
        )
        start = time.perf_counter()
        report = exporter.export(messages)
        elapsed = time.perf_counter() - start
        rows = report.exported
        merges = sum(1 for c in counter.calls if "jobs" in c and c.startswith("POST"))
        print(f"transform + write: {rows:,} rows in {elapsed:.2f}s = {rows / elapsed:,.0f} rows/s "
              f"(new {report.inserted:,})")  # fmt: skip
        per10k = len(counter.calls) * 10_000 / max(rows, 1)
        print(f"BigQuery API calls: {len(counter.calls)} for {rows:,} rows "
              f"= {per10k:.1f} per 10k rows; write calls (jobs.insert) {merges} "
              f"= 1 per {rows / max(merges, 1):,.0f} rows")  # fmt: skip
        counter.calls.clear()
        start = time.perf_counter()
        again = exporter.export(messages)
        elapsed = time.perf_counter() - start
        print(f"redelivery of the same {again.exported:,}: {again.inserted} new rows, "
              f"{elapsed:.2f}s, {len(counter.calls)} API calls")  # fmt: skip


def main() -> None:
    messages = make_messages(N_TRANSFORM)
    bench_transform(messages)  # timed without tracemalloc (it slows Python code ~3x)
    tracemalloc.start()
    config = StackConfig(port_base=PORT_BASE, state_dir=ROOT / ".refrain" / "bench-stack")
    manager = StackManager(config)
    started = not port_open(config.host, config.bigquery_port)
    if started:
        print(f"starting a local stack on ports {PORT_BASE + 1}-{PORT_BASE + 5} ...")
        manager.up()
    try:
        bench_write(config, messages[:N_WRITE])
    finally:
        if started:
            manager.down()
    _, peak = tracemalloc.get_traced_memory()
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak traced Python memory during the write {peak / 1e6:.1f} MB; max RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
