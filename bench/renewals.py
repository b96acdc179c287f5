"""Renewal tick and charge worker: Firestore reads per due subscription, charges per second.

Usage: .venv/bin/python bench/renewals.py [--sizes 10000,100000] [--due 500]
       [--concurrency 16] [--port-base 8950] [--simulate 1000] [--no-publish]

Starts its own stack on its own ports and stops it at the end. For each size it
seeds that many merchant-managed subscriptions (batched writes of 500) of which
only ``--due`` have a passed deadline, then runs one tick and works every charge
inline (sandbox gateway, ``--concurrency`` threads; each charge = claim
transaction, sandbox call, record transaction, events published to the Pub/Sub
emulator). Reads are counted by wrapping the Firestore client's RPCs: documents
returned by RunQuery and BatchGetDocuments (found or missing: Firestore bills
both). ``--simulate N`` also runs N subscriptions through three months of daily
ticks (duplicated ticks) and prints the event counts.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from refrain.adapters.firestore_renewals import seed_subscriptions
from refrain.domain import ManualClock
from refrain.domain.clock import utc
from refrain.observability import get_logger
from refrain.renewals import sandbox
from refrain.renewals.gateway import GatewayRouter
from refrain.renewals.sandbox import SandboxGateway
from refrain.settings import CloudSettings
from refrain_tools.renewals.inline import InlineRenewals, RunReport, build_inline
from refrain_tools.renewals.population import active_subscription, mixed_population
from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.manager import StackManager
from refrain_tools.stack.seed import pointed_at

START = utc(2025, 1, 1)
RUN_AT = utc(2025, 2, 15)


class ReadCounter:
    """Counts documents the Firestore client receives, per RPC kind."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def wrap(self, api: Any) -> None:
        api.run_query = self._counting(api.run_query, "query", lambda r: bool(r.document))
        api.batch_get_documents = self._counting(
            api.batch_get_documents, "get", lambda r: bool(r.found) or bool(r.missing)
        )

    def _counting(
        self, rpc: Callable[..., Any], kind: str, is_doc: Callable[[Any], bool]
    ) -> Callable[..., Iterator[Any]]:
        def wrapped(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for response in rpc(*args, **kwargs):
                if is_doc(response):
                    self.counts[kind] += 1
                yield response

        return wrapped


def population(size: int, due: int) -> list[Any]:
    """``due`` subscriptions renewing before RUN_AT; the rest long after it."""
    subs = []
    for i in range(size):
        start = START + timedelta(hours=i % 600) if i < due else RUN_AT + timedelta(days=1)
        subs.append(
            active_subscription(f"b{i:07d}", payment_method_ref=sandbox.OK, period_start=start)
        )
    return subs


def inline_at(
    settings: CloudSettings, clock: ManualClock, concurrency: int
) -> tuple[InlineRenewals, SandboxGateway]:
    gateway = SandboxGateway()
    log = get_logger("renewal_trigger", open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
    inline = build_inline(
        settings, clock=clock, gateways=GatewayRouter({}, default=gateway), log=log,
        concurrency=concurrency,
    )  # fmt: skip
    return inline, gateway


class _Silent:
    def publish(self, outbox_id: str, events: tuple[Any, ...], trace: str | None = None) -> bool:
        """Publish nothing: leave events to the outbox sweep (to see what publishing costs)."""
        return False


def measure(settings: CloudSettings, size: int, due: int, concurrency: int, publish: bool) -> None:
    clock = ManualClock(RUN_AT)
    inline, gateway = inline_at(settings, clock, concurrency)
    db = inline.worker.ledger.db  # type: ignore[attr-defined]
    started = time.perf_counter()
    seed_subscriptions(db, population(size, due))
    seed_s = time.perf_counter() - started
    counter = ReadCounter()
    counter.wrap(db._firestore_api)
    tick_db = inline.tick.source.db  # type: ignore[attr-defined]  # the tick has its own client
    if tick_db is not db:
        counter.wrap(tick_db._firestore_api)
    started = time.perf_counter()
    tick = inline.tick.run()
    tick_s = time.perf_counter() - started
    tick_reads = counter.counts["query"]
    if not publish:
        inline.worker.publisher.relay = _Silent()
    report = RunReport(at=RUN_AT)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        inline.work(inline.queue.take(), report, pool)
    work_s = time.perf_counter() - started
    worker_reads = counter.counts["get"]
    print(
        f"size {size:>7}: seeded in {seed_s:6.1f} s ({size / seed_s:,.0f} docs/s); due {tick.due}"
    )
    print(
        f"  tick: {tick_s * 1000:6.0f} ms, {tick.pages} page(s), documents read {tick_reads}"
        f" -> {tick_reads / max(tick.due, 1):.3f} reads per due subscription"
    )
    charged = gateway.charges
    print(
        f"  worker: {charged} charges in {work_s:.1f} s at concurrency {concurrency}"
        f" -> {charged / work_s:.0f} charges/s"
        f" ({'events published to Pub/Sub' if publish else 'events left to the sweep'})"
        f"; documents read {worker_reads}"
        f" -> {worker_reads / max(charged, 1):.2f} per charge (2 transactions x outbox+sub+charge)"
    )
    total = tick_reads + worker_reads
    print(f"  tick + worker: {total / max(tick.due, 1):.2f} reads per due subscription")
    assert report.outcomes.get("charged", 0) == charged


def simulate(settings: CloudSettings, n: int, concurrency: int) -> None:
    clock = ManualClock(START)
    inline, gateway = inline_at(settings, clock, concurrency)
    inline.duplicate = True
    db = inline.worker.ledger.db  # type: ignore[attr-defined]
    seed_subscriptions(db, mixed_population(n, START))
    events: Counter[str] = Counter()
    started = time.perf_counter()
    for day in range(93):
        clock.set(START + timedelta(days=day))
        events.update(inline.run().events)
    elapsed = time.perf_counter() - started
    print(f"simulation: {n} subscriptions, 93 daily ticks (duplicated), {elapsed:.1f} s")
    for name, count in sorted(events.items()):
        print(f"  {name}: {count}")
    print(f"  sandbox: {gateway.charges} charges, {sum(gateway.calls.values())} calls, "
          f"max charges per period {max(gateway.successes.values())}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--due", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port-base", type=int, default=8950)
    parser.add_argument("--simulate", type=int, default=0)
    parser.add_argument(
        "--no-publish", action="store_true", help="also measure without publishing events"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    state_dir = Path(tempfile.mkdtemp(prefix="refrain-bench-renewals-"))
    manager = StackManager(StackConfig(port_base=args.port_base, state_dir=state_dir))
    manager.up()
    try:
        with pointed_at(manager.config) as settings:
            for size in sizes:
                manager.reset()
                measure(settings, size, min(args.due, size), args.concurrency, publish=True)
                if args.no_publish:
                    manager.reset()
                    measure(settings, size, min(args.due, size), args.concurrency, publish=False)
            if args.simulate:
                manager.reset()
                simulate(settings, args.simulate, args.concurrency)
    finally:
        manager.down()


if __name__ == "__main__":
    main()
