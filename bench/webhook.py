"""checkout_webhook: Firestore operations per event, throughput, latency, CPU, cold start.

Usage: .venv/bin/python bench/webhook.py [--events 400] [--port-base 8950]

Starts its own local stack and serves the real function with functions-framework.
- Firestore reads/writes/commits per event are counted at the client's RPC layer
  (BatchGetDocuments documents, Commit writes, RunQuery results with the one read
  Firestore bills an empty query), not estimated.
- Throughput and latency: signed Stripe events over HTTP at concurrency 1 and 16.
- CPU per event: the server process's CPU time (all of it: Flask, gRPC, ours) and
  our own share (cProfile, functions under shared/refrain, in-process run).
- Cold start: process spawn to first answered request, ours vs a bare function
  importing the same Google clients.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import stripe_header  # noqa: E402

from refrain.bootstrap import build_webhook_service  # noqa: E402
from refrain.topology import TOPOLOGY, Function, Topology  # noqa: E402
from refrain_tools.demo.servers import FunctionServers  # noqa: E402
from refrain_tools.stack.seed import own_stack  # noqa: E402

SECRET = "whsec_bench"  # local benchmark secret, not a real one
WEBHOOK = next(f for f in TOPOLOGY.functions if f.name == "checkout_webhook")
# A function that only imports the same Google clients: the cold-start baseline.
BARE = Function("bare", "bare", "bare", "http")
MARKETS = [("SE", "SEK"), ("DE", "EUR"), ("GB", "GBP"), ("US", "USD"), ("JP", "JPY"), ("BR", "BRL")]


def checkout_event(i: int, catalog: Any) -> dict[str, Any]:
    market, currency = MARKETS[i % len(MARKETS)]
    price = catalog.price("individual_monthly", market)
    return {
        "id": f"evt_bench_checkout_{i}",
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()) - 60,
        "data": {
            "object": {
                "id": f"cs_bench_{i}",
                "object": "checkout.session",
                "mode": "payment",
                "status": "complete",
                "payment_status": "paid",
                "payment_intent": f"pi_bench_{i}",
                "customer": f"cus_bench_{i}",
                "amount_total": price.amount,
                "currency": currency.lower(),
                "customer_details": {"email": f"bench{i}@example.com"},
                "metadata": {
                    "account_id": f"acct_{i}",
                    "plan": "individual_monthly",
                    "market": market,
                    "subscription_id": f"sub_bench_{i}",
                },
            }
        },
    }


def billing_event(i: int, kind: str, cancel_at_period_end: bool) -> dict[str, Any]:
    """Stripe Billing: `created` makes the subscription, `updated` changes an existing one."""
    now = int(time.time())
    return {
        "id": f"evt_bench_billing_{kind}_{i}",
        "object": "event",
        "type": f"customer.subscription.{kind}",
        "created": now - (60 if kind == "created" else 30),
        "data": {
            "object": {
                "id": f"sub_stripe_bench_{i}",
                "object": "subscription",
                "status": "active",
                "customer": f"cus_bench_b{i}",
                "cancel_at_period_end": cancel_at_period_end,
                "metadata": {"account_id": f"acct_b{i}", "plan": "duo_monthly", "market": "DE"},
                "items": {
                    "data": [
                        {
                            "current_period_start": now - 86400,
                            "current_period_end": now + 29 * 86400,
                            "price": {"lookup_key": "duo_monthly"},
                        }
                    ]
                },
            }
        },
    }


def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_header(body, SECRET, int(time.time())),
    }


class RpcCounter:
    """Counts Firestore documents read, writes and commits at the GAPIC client."""

    def __init__(self, db: Any) -> None:
        self.counts: Counter[str] = Counter()
        api = db._firestore_api
        original_get, original_commit = api.batch_get_documents, api.commit
        original_query = api.run_query

        def batch_get_documents(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request") or args[0]
            self.counts["reads"] += len(
                request["documents"] if isinstance(request, dict) else request.documents
            )
            return original_get(*args, **kwargs)

        def commit(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request") or args[0]
            writes = request["writes"] if isinstance(request, dict) else request.writes
            self.counts["writes"] += len(writes)
            self.counts["commits"] += 1
            return original_commit(*args, **kwargs)

        def run_query(*args: Any, **kwargs: Any) -> Any:
            found = 0
            for item in original_query(*args, **kwargs):
                if item.document and item.document.name:
                    found += 1
                yield item
            self.counts["reads"] += max(found, 1)  # Firestore bills an empty query one read
            self.counts["queries"] += 1

        api.batch_get_documents = batch_get_documents
        api.commit = commit
        api.run_query = run_query


def post(url: str, payload: tuple[bytes, dict[str, str]]) -> float:
    started = time.perf_counter()
    answer = requests.post(url, data=payload[0], headers=payload[1], timeout=60)
    answer.raise_for_status()
    return time.perf_counter() - started


def serve(
    fn: Function, env: Mapping[str, str], functions_dir: Path = ROOT / "functions"
) -> tuple[FunctionServers, str]:
    """One function under functions-framework, as the demo serves them; returns once it listens."""
    servers = FunctionServers(
        env=env,
        log_dir=Path(tempfile.mkdtemp(prefix="refrain-bench-")),
        topology=Topology(topics=(), subscriptions=(), datasets=(), functions=(fn,)),
        functions_dir=functions_dir,
    )
    return servers, servers.start()[fn.name]


def first_answer(url: str, body: bytes, headers: dict[str, str], started: float) -> float:
    while True:
        try:
            requests.post(url, data=body, headers=headers, timeout=30)
            return time.perf_counter() - started
        except requests.ConnectionError:
            time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--port-base", type=int, default=8950)
    args = parser.parse_args()
    from refrain.domain import load_catalog

    catalog = load_catalog()
    with own_stack(args.port_base) as (_, cloud):
        os.environ["STRIPE_WEBHOOK_SECRET"] = SECRET
        env = {"STRIPE_WEBHOOK_SECRET": SECRET}
        report: list[str] = []

        # 1. Operations per event, counted in-process on the real service.
        service = build_webhook_service(cloud)
        counter = RpcCounter(service.ledger.db)  # type: ignore[attr-defined]
        new = [checkout_event(100_000 + i, catalog) for i in range(40)]
        kinds = {
            "checkout (new subscription)": new,
            "provider state (new subscription)": [
                billing_event(i, "created", False) for i in range(40)
            ],
            "provider state (existing subscription)": [
                billing_event(i, "updated", True) for i in range(40)
            ],
            "duplicate delivery": new,
        }
        for name, events in kinds.items():
            before = Counter(counter.counts)
            for event in events:
                body, headers = signed(event)
                answer = service.handle("POST", "/stripe", headers, body)
                assert answer.status == 200, answer
            used = counter.counts - before
            n = len(events)
            report.append(
                f"{name:<40} per event: reads {used['reads'] / n:.2f} "
                f"(queries {used['queries'] / n:.2f}), "
                f"writes {used['writes'] / n:.2f}, commits {used['commits'] / n:.2f} "
                "(all included; the audit record is 2 writes + 1 commit of these)"
            )

        # 2. Our own CPU per event (cProfile, functions in shared/refrain only).
        profile = cProfile.Profile()
        events = [checkout_event(200_000 + i, catalog) for i in range(100)]
        cpu0 = time.process_time()
        profile.enable()
        for event in events:
            body, headers = signed(event)
            service.handle("POST", "/stripe", headers, body)
        profile.disable()
        cpu_all = (time.process_time() - cpu0) / len(events)
        stats = pstats.Stats(profile)
        ours = sum(
            row[2]  # tottime
            for (filename, _, _), row in stats.stats.items()  # type: ignore[attr-defined]
            if "/shared/refrain/" in filename
        ) / len(events)

        # 3. HTTP throughput and latency at concurrency 1 and 16.
        servers, url = serve(WEBHOOK, env)
        base = 300_000
        try:
            warm = signed(checkout_event(base - 1, catalog))
            first_answer(url + "/stripe", warm[0], warm[1], time.perf_counter())
            for concurrency in (1, 16):
                payloads = [signed(checkout_event(base + i, catalog)) for i in range(args.events)]
                base += args.events
                cpu_before = servers.cpu_seconds()[WEBHOOK.name]
                started = time.perf_counter()
                with ThreadPoolExecutor(concurrency) as pool:
                    latencies = list(pool.map(lambda p: post(url + "/stripe", p), payloads))
                wall = time.perf_counter() - started
                cpu_after = servers.cpu_seconds()[WEBHOOK.name]
                latencies.sort()
                report.append(
                    f"HTTP concurrency {concurrency:>2}: {len(payloads) / wall:7.1f} events/s, "
                    f"p50 {statistics.median(latencies) * 1000:6.1f} ms, "
                    f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:6.1f} ms, "
                    f"server CPU {(cpu_after - cpu_before) / len(payloads) * 1000:.1f} ms/event"
                )
        finally:
            servers.stop()
        report.append(
            f"CPU per event in-process: all {cpu_all * 1000:.1f} ms, of which Refrain's "
            f"own code {ours * 1000:.2f} ms (cProfile tottime in shared/refrain)"
        )

        # 4. Cold start: spawn → first answered request, ours vs a bare function.
        stand_ins = Path(tempfile.mkdtemp())
        (stand_ins / BARE.source).mkdir()
        (stand_ins / BARE.source / "main.py").write_text(
            "import functions_framework\n"
            "from google.cloud import firestore, pubsub_v1\n"
            "@functions_framework.http\n"
            "def bare(request):\n"
            "    return 'ok'\n"
        )
        colds: dict[str, list[float]] = {"bare": [], "ours": []}
        for i in range(3):
            t0 = time.perf_counter()
            servers, url = serve(BARE, env, stand_ins)
            colds["bare"].append(first_answer(url, b"{}", {"Content-Type": "application/json"}, t0))
            servers.stop()
            body, headers = signed(checkout_event(900_000 + i, catalog))
            t0 = time.perf_counter()
            servers, url = serve(WEBHOOK, env)
            colds["ours"].append(first_answer(url + "/stripe", body, headers, t0))
            servers.stop()
        b, o = statistics.median(colds["bare"]), statistics.median(colds["ours"])
        report.append(
            "cold start (spawn to first answered request, median of 3): bare functions-"
            f"framework + Firestore/Pub/Sub clients {b * 1000:.0f} ms; checkout_webhook "
            f"with its first Stripe event {o * 1000:.0f} ms; "
            f"Refrain adds {(o - b) * 1000:.0f} ms"
        )
        print("\n".join(report))


if __name__ == "__main__":
    main()
