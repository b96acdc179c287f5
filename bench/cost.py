"""Dollars per million webhook events at Google Cloud list prices, from counted operations.

Usage: .venv/bin/python bench/cost.py [--events 200] [--port-base 8970]

Starts its own local stack and runs the real webhook service in process over signed
Stripe events of three kinds (a new subscription, a change to an existing one, a
duplicate delivery), counting at the client:
- Firestore documents read and written (the RPC layer, as bench/webhook.py counts them)
  and the TTL deletes each event causes later (documents it creates in collections with
  a TTL policy, counted in the emulator afterwards);
- domain events published to Pub/Sub and their bytes (each message is delivered to the
  two subscriptions of `subscription-events`);
- the process CPU per event, and its wall time (the billed instance time when requests
  do not overlap).
Then prices them. The list prices are constants below, each with the page it comes
from; they are the published USD list prices for multi-region Firestore (nam5, eur3)
and tier-1 Cloud Run request-based billing. Check the pages before budgeting: prices
change, and committed-use discounts are not applied here.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from refrain.bootstrap import build_webhook_service  # noqa: E402
from refrain_tools.infra.firestore_spec import TTL_FIELDS  # noqa: E402
from refrain_tools.stack.seed import own_stack  # noqa: E402


def _webhook_bench() -> Any:
    """bench/webhook.py's event builders and RPC counter (one copy of them)."""
    spec = importlib.util.spec_from_file_location("bench_webhook", ROOT / "bench" / "webhook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Price:
    usd: float
    per: float
    source: str


# USD list prices (multi-region Firestore; Cloud Run tier 1 request-based billing, which
# Cloud Run functions use; Pub/Sub throughput, 1,000-byte minimum per request).
PRICES = {
    "firestore_read": Price(0.06, 100_000, "https://cloud.google.com/firestore/pricing"),
    "firestore_write": Price(0.18, 100_000, "https://cloud.google.com/firestore/pricing"),
    "firestore_delete": Price(0.02, 100_000, "https://cloud.google.com/firestore/pricing"),
    "run_vcpu_second": Price(0.000024, 1, "https://cloud.google.com/run/pricing"),
    "run_gib_second": Price(0.0000025, 1, "https://cloud.google.com/run/pricing"),
    "run_request": Price(0.40, 1_000_000, "https://cloud.google.com/run/pricing"),
    "pubsub_tib": Price(40.0, 1, "https://cloud.google.com/pubsub/pricing"),
}
TIB = 2**40
MEMORY_GIB = 0.5  # the webhook's memory (terraform/functions.tf)
DELIVERIES_PER_EVENT = 2  # subscription-events: receipt-email and churn-export


def per_million(item: str, quantity_per_event: float) -> float:
    price = PRICES[item]
    return quantity_per_event * 1_000_000 * price.usd / price.per


def measure(service: Any, bench: Any, kinds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Operations, TTL deletes and CPU per event of each kind, on the real service."""
    counter = bench.RpcCounter(service.ledger.db)
    db = service.ledger.db
    ttl = [t.collection for t in TTL_FIELDS]
    results: dict[str, Any] = {}
    for name, events in kinds.items():
        before = Counter(counter.counts)
        docs_before = {c: sum(1 for _ in db.collection(c).list_documents()) for c in ttl}
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for event in events:
            body, headers = bench.signed(event)
            answer = service.handle("POST", "/stripe", headers, body)
            assert answer.status == 200, answer
        cpu = (time.process_time() - cpu0) / len(events)
        wall = (time.perf_counter() - wall0) / len(events)
        used = counter.counts - before
        created = sum(
            sum(1 for _ in db.collection(c).list_documents()) - docs_before[c] for c in ttl
        )
        n = len(events)
        results[name] = {
            "reads": used["reads"] / n,
            "writes": used["writes"] / n,
            "ttl_deletes": created / n,
            "cpu_s": cpu,
            "wall_s": wall,
        }
    return results


def price(row: dict[str, Any], messages: float, message_bytes: float) -> dict[str, float]:
    billed_bytes = max(message_bytes, 1000) * messages * (1 + DELIVERIES_PER_EVENT)
    return {
        "firestore": per_million("firestore_read", row["reads"])
        + per_million("firestore_write", row["writes"])
        + per_million("firestore_delete", row["ttl_deletes"]),
        "pubsub": per_million("pubsub_tib", billed_bytes / TIB),
        "function (CPU time)": function_cost(row["cpu_s"]),
        "function (wall time)": function_cost(row["wall_s"]),
    }


def function_cost(seconds: float) -> float:
    """One request held ``seconds`` on one vCPU and MEMORY_GIB, per million requests."""
    return (
        per_million("run_vcpu_second", seconds)
        + per_million("run_gib_second", seconds * MEMORY_GIB)
        + per_million("run_request", 1)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--port-base", type=int, default=8970)
    args = parser.parse_args()
    from refrain.domain import load_catalog

    bench = _webhook_bench()
    catalog = load_catalog()
    with own_stack(args.port_base) as (_, cloud):
        os.environ["STRIPE_WEBHOOK_SECRET"] = bench.SECRET
        with contextlib.redirect_stdout(io.StringIO()):  # its JSON log lines
            service: Any = build_webhook_service(cloud)
        n = args.events
        new = [bench.checkout_event(500_000 + i, catalog) for i in range(n)]
        kinds = {
            "new subscription (checkout)": new,
            "new subscription (Stripe Billing)": [
                bench.billing_event(i, "created", False) for i in range(n)
            ],
            "existing subscription (update)": [
                bench.billing_event(i, "updated", True) for i in range(n)
            ],
            "duplicate delivery": new,
        }
        with contextlib.redirect_stdout(io.StringIO()):
            rows = measure(service, bench, kinds)
        db = service.ledger.db
        outbox = [d.to_dict() or {} for d in db.collection("outbox").stream()]
        events = [e for d in outbox for e in d.get("events") or []]
        messages = len(events) / max(1, len(outbox))
        size = sum(len(e.encode()) for e in events) / max(1, len(events))
    print(f"domain events per applied webhook event: {messages:.2f}, {size:.0f} bytes each")
    print("prices used (USD list):")
    for item, p in PRICES.items():
        print(f"  {item:<18} ${p.usd} per {p.per:,.0f}  ({p.source})")
    print()
    header = f"{'per webhook event':<32} reads  writes  ttl-del  CPU ms  wall ms"
    print(header)
    for name, row in rows.items():
        print(f"{name:<32} {row['reads']:5.2f}  {row['writes']:6.2f}  {row['ttl_deletes']:7.2f}"
              f"  {row['cpu_s'] * 1000:6.1f}  {row['wall_s'] * 1000:7.1f}")  # fmt: skip
    print()
    print(f"{'$ per million webhook events':<32} firestore  pub/sub  function(CPU..wall)  total")
    summary = {}
    for name, row in rows.items():
        dup = name.startswith("duplicate")
        cost = price(row, 0 if dup else messages, size)
        low = cost["firestore"] + cost["pubsub"] + cost["function (CPU time)"]
        high = cost["firestore"] + cost["pubsub"] + cost["function (wall time)"]
        summary[name] = {"low": round(low, 2), "high": round(high, 2), **{
            k: round(v, 2) for k, v in cost.items()}}  # fmt: skip
        print(f"{name:<32} {cost['firestore']:9.2f}  {cost['pubsub']:7.2f}  "
              f"{cost['function (CPU time)']:6.2f}..{cost['function (wall time)']:<6.2f}"
              f"       {low:.2f}..{high:.2f}")  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
