"""checkout_webhook side by side with a peer: dj-stripe 2.11 on PostgreSQL 15.

Usage: .venv/bin/python bench/side_by_side.py [--peer-dir DIR] [--events 2000]
           [--concurrency 1,16] [--port-base 9720]

Both implementations receive the same corpus (bench/harness/stripe_flow.py: the 12-event
Stripe flow of the vendored fixtures, cloned per customer), one after the other on this
machine, from the same closed-loop generator (bench/harness/closed_loop.py) at the same
concurrencies, each behind gunicorn gthread with the same workers and threads, each run
on an emptied store. The table: events/s, p50/p99 latency, CPU per event of the
application's process tree and of its store's (the Firestore emulator's JVM for us,
PostgreSQL for the peer), database operations per event (ours: Firestore documents
read, writes and commits counted at the client as bench/webhook.py counts them, over
the first --ops-events events in process; the peer's: SQL statements from
pg_stat_statements during each run).

The peer is not part of this repository: pass its harness folder with --peer-dir (or
REFRAIN_PEER_DIR) and its set-up work directory with --peer-work (REFRAIN_PEER_WORK,
default /tmp/peer). Without --peer-dir only our side runs, and the script says so.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.closed_loop import run_load, stripe_signature  # noqa: E402
from harness.djstripe_peer import PeerSetup, running_peer  # noqa: E402
from harness.stripe_flow import build_corpus, event_type  # noqa: E402
from harness.table import Row, cpu_split, markdown, ops_text, per_event_ms  # noqa: E402
from refrain.bootstrap import build_webhook_service  # noqa: E402
from refrain_tools.demo.servers import tree_cpu_seconds  # noqa: E402
from refrain_tools.stack.manager import StackManager  # noqa: E402
from refrain_tools.stack.seed import own_stack  # noqa: E402
from webhook import SECRET, WEBHOOK, RpcCounter, serve  # noqa: E402

# The fixtures' one price, as an operator maps a business's own Stripe Price.
PRICE_PLANS = json.dumps({"price_1PgafmB7WZ01zgkW6dKueIc5": "individual_monthly@US"})
FIRESTORE_OPS = ("reads", "writes", "commits")
SQL_OPS = ("select", "insert", "update", "delete", "transaction control")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
        platform.processor() or "?",
    )
    python = platform.python_version()
    return f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, Python {python}"


def _cpuinfo() -> list[str]:
    with contextlib.suppress(OSError):
        return Path("/proc/cpuinfo").read_text().splitlines()
    return []


def _stack_cpu(manager: StackManager, service: str) -> float | None:
    running = manager.read_state().get(service)
    return tree_cpu_seconds(running.pid) if running else None


def _lock_timeouts(manager: StackManager) -> int:
    """Transactions the Firestore emulator gave up waiting for a document lock, so far."""
    log = manager.config.state_dir / "firestore.log"
    with contextlib.suppress(OSError):
        return log.read_text(errors="replace").count("Transaction lock timeout")
    return 0


def _delta(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


def warm_up_corpus(args: argparse.Namespace, now: int) -> list[bytes]:
    """Flows the measured corpus does not have, sent before each run as many at a time as
    the server has threads: every worker's first requests (imports, clients, connections)
    are paid before a run is measured, on both sides."""
    return build_corpus(args.warmup, now, first_flow=90_000)


def our_side(
    args: argparse.Namespace, corpus: list[bytes], warmup: list[bytes]
) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    os.environ["STRIPE_WEBHOOK_SECRET"] = SECRET
    os.environ["STRIPE_PRICE_PLANS"] = PRICE_PLANS
    with own_stack(args.port_base) as (manager, cloud):
        # 1. Firestore operations and CPU per event, in process over the first events.
        with contextlib.redirect_stdout(io.StringIO()):  # the service's JSON log lines
            service: Any = build_webhook_service(cloud)
        sample = corpus[: args.ops_events]
        with contextlib.redirect_stdout(io.StringIO()):
            _handle(service, warmup)
        manager.reset()
        counter = RpcCounter(service.ledger.db)
        cpu0 = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            _handle(service, sample)
        in_process = (time.process_time() - cpu0) / len(sample)
        ops = ops_text(counter.counts, FIRESTORE_OPS, len(sample))
        notes.append(
            f"Refrain in process (no HTTP server), first {len(sample)} events at concurrency 1: "
            f"{ops} per event; application CPU {in_process * 1000:.1f} ms/event, store excluded"
        )
        # 2. Over HTTP: functions-framework (gunicorn gthread), a fresh stack for each run.
        env = {
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "STRIPE_PRICE_PLANS": PRICE_PLANS,
            "WORKERS": str(args.workers),
            "THREADS": str(args.threads),
        }
        for concurrency in args.concurrency:
            servers, url = serve(WEBHOOK, env)
            try:
                run_load(url + "/stripe", SECRET, warmup, args.workers * args.threads)
                manager.reset()
                before = _our_cpu(manager, servers.cpu_seconds().get(WEBHOOK.name))
                locks = _lock_timeouts(manager)
                load = run_load(url + "/stripe", SECRET, corpus, concurrency)
                after = _our_cpu(manager, servers.cpu_seconds().get(WEBHOOK.name))
                locks = _lock_timeouts(manager) - locks
            finally:
                servers.stop()
            used = {k: _delta(after[k], before[k]) for k in after}
            rows.append(Row("Refrain", load, used["app"], used["firestore"], ops + " (in process)"))
            outcomes = Counter(
                str((d.to_dict() or {}).get("outcome"))
                for d in service.ledger.db.collection("webhook_audit").select(["outcome"]).stream()
            )
            notes.append(
                f"Refrain c={concurrency}: outcomes {dict(sorted(outcomes.items()))}; the Pub/Sub "
                f"emulator used {per_event_ms(used['pubsub'], load.sent)} ms CPU/event; Firestore "
                f"emulator 'Transaction lock timeout' failures: {locks}"
            )
    return rows, notes


def _handle(service: Any, bodies: list[bytes]) -> None:
    for body in bodies:
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_signature(SECRET, body, int(time.time())),
        }
        answer = service.handle("POST", "/stripe", headers, body)
        assert answer.status == 200, answer


def _our_cpu(manager: StackManager, app: float | None) -> dict[str, float | None]:
    return {
        "app": app,
        "firestore": _stack_cpu(manager, "firestore"),
        "pubsub": _stack_cpu(manager, "pubsub"),
    }


def peer_side(
    args: argparse.Namespace, setup: PeerSetup, corpus: list[bytes], warmup: list[bytes]
) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="refrain-side-by-side-"))
    corpus_file = work / "corpus.jsonl"
    corpus_file.write_bytes(b"".join(body + b"\n" for body in corpus))
    with running_peer(setup, corpus_file, args.workers, args.threads, work) as peer:
        for concurrency in args.concurrency:
            peer.restart()
            run_load(peer.url, peer.secret, warmup, args.workers * args.threads)
            peer.reset()
            before = peer.cpu_seconds()
            load = run_load(peer.url, peer.secret, corpus, concurrency)
            after = peer.cpu_seconds()
            used = {k: _delta(after[k], before[k]) for k in after}
            sql = peer.statements()
            n = max(1, load.sent)
            ops = f"{sql['statements'] / n:.2f} SQL statements ({ops_text(sql, SQL_OPS, n)})"
            rows.append(Row("dj-stripe", load, used["gunicorn"], used["postgres"], ops))
            notes.append(
                f"dj-stripe c={concurrency}: Stripe API calls {peer.stripe_api_calls() / n:.2f}"
                f"/event to the harness's fake Stripe API, which used "
                f"{per_event_ms(used['fake_stripe'], n)} ms CPU/event"
            )
    notes.append(f"dj-stripe logs: {work}")
    return rows, notes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000, help="corpus size (2000)")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated (1,16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes, both sides")
    parser.add_argument("--threads", type=int, default=8, help="threads per process, both sides")
    parser.add_argument("--warmup", type=int, default=48, help="unmeasured events per run")
    parser.add_argument("--ops-events", type=int, default=240, help="events counted in process")
    parser.add_argument("--port-base", type=int, default=9720, help="our local stack's ports")
    parser.add_argument("--peer-dir", default=os.environ.get("REFRAIN_PEER_DIR"))
    parser.add_argument("--peer-first", action="store_true", help="run the peer before us")
    parser.add_argument("--peer-work", default=os.environ.get("REFRAIN_PEER_WORK", "/tmp/peer"))
    parser.add_argument(
        "--pg-bin", default=os.environ.get("REFRAIN_PEER_PG_BIN", "/usr/lib/postgresql/15/bin")
    )
    args = parser.parse_args()
    args.concurrency = [int(c) for c in str(args.concurrency).split(",") if c.strip()]
    return args


def main() -> None:
    args = parse_args()
    started = time.time()
    setup: PeerSetup | str = "no --peer-dir (or REFRAIN_PEER_DIR) given"
    if args.peer_dir:
        setup = PeerSetup.locate(Path(args.peer_dir), Path(args.peer_work), Path(args.pg_bin))
    print(f"machine: {machine()}; {load_average()} at start", flush=True)
    corpus = build_corpus(args.events, int(started))
    types = Counter(event_type(b) for b in corpus)
    print(f"corpus: {len(corpus)} Stripe events, {len(types)} types, {min(types.values())} to "
          f"{max(types.values())} of each; concurrency {args.concurrency}; gunicorn gthread "
          f"{args.workers} workers x {args.threads} threads on both sides", flush=True)  # fmt: skip
    warmup = warm_up_corpus(args, int(started))
    rows: list[Row] = []
    notes: list[str] = []
    sides = ["peer", "ours"] if args.peer_first else ["ours", "peer"]
    for side in sides:
        if side == "ours":
            done = our_side(args, corpus, warmup)
        elif isinstance(setup, PeerSetup):
            done = peer_side(args, setup, corpus, warmup)
        else:
            notes.append(f"peer NOT run: {setup}; only Refrain's side is measured")
            continue
        rows, notes = rows + done[0], notes + done[1]
        print(f"{load_average()} after {'Refrain' if side == 'ours' else 'dj-stripe'}", flush=True)
    rows.sort(key=lambda row: row.side != "Refrain")
    print()
    print(markdown(rows))
    print()
    for line in [cpu_split(row) for row in rows] + notes:
        print(f"- {line}")
    refused = sum(n for row in rows for code, n in row.load.status.items() if code != "200")
    if refused:
        print(f"- {refused} requests were not answered 200 (a provider retries a 5xx)")
    print(f"\n{load_average()} at the end; {time.time() - started:.0f} s in all")


if __name__ == "__main__":
    main()
