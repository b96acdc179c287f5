"""Webhook storm: every provider event delivered three times, shuffled, 16 at a time.

Usage: .venv/bin/python bench/storm.py [--events 10000] [--workers 16] [--port-base 9970]

Starts its own local stack (own ports, own state dir), builds a simulator corpus
(Stripe merchant checkouts + refunds/disputes, Stripe Billing created/invoices/
cancel-at-period-end, Adyen authorisations + refunds; event times increasing per
subscription), delivers it through the real WebhookService in-process, then
resets and delivers the same corpus once, in order, and diffs the final
Firestore states (tests/integration/reliability/storm.py says what is compared).
Prints the figures; no assertions. Renewals and receipts are not part of this
storm (no charges or e-mails are produced by the webhook path), so "charges per
period" and "receipts per invoice" are reported as not measured.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.reliability.storm import (  # noqa: E402
    build_corpus,
    deliver_in_order,
    deliver_storm,
    final_state,
    storm_service,
)

from refrain.adapters.firestore import build_firestore  # noqa: E402
from refrain.stack.config import StackConfig  # noqa: E402
from refrain.stack.manager import StackManager  # noqa: E402
from refrain.stack.seed import pointed_at  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=9970)
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="refrain-bench-storm-"))
    manager = StackManager(StackConfig(port_base=args.port_base, state_dir=state_dir))
    up_s = manager.up()
    logs = io.StringIO()  # the service logs one JSON line per request: keep them off the figures
    try:
        with pointed_at(manager.config) as cloud, contextlib.redirect_stdout(logs):
            corpus = build_corpus(args.events, seed=args.seed)
            manager.reset()
            storm = deliver_storm(
                storm_service(cloud), corpus, copies=args.copies, seed=args.seed,
                workers=args.workers,
            )  # fmt: skip
            stormed = final_state(build_firestore(cloud))
            manager.reset()
            ordered = deliver_in_order(storm_service(cloud), corpus)
            expected = final_state(build_firestore(cloud))
    finally:
        manager.down()

    diff = stormed.diff(expected)
    providers = Counter(d.provider for d in corpus.deliveries)
    s, o = storm.as_dict(), ordered.as_dict()
    print(f"stack up: {up_s:.1f} s (port base {args.port_base})")
    print(f"corpus: {len(corpus.deliveries)} provider events, {len(corpus.subscriptions)} "
          f"subscriptions, by provider {dict(providers)}")  # fmt: skip
    print(f"storm: {s['deliveries']} deliveries ({s['duplicates']} duplicates), "
          f"{s['posts']} POSTs, {s['retried']} retries over {s['rounds']} rounds, "
          f"statuses {s['statuses']}, gave up {s['gave_up']}, workers {args.workers}")  # fmt: skip
    print(f"storm wall time: {s['seconds']} s ({s['posts'] / max(s['seconds'], 1e-9):.0f} POST/s)")
    print(f"in order: {o['posts']} POSTs, statuses {o['statuses']}, wall time {o['seconds']} s")
    print(f"outbox records: storm {len(stormed.outbox)}, in order {len(expected.outbox)}")
    print(f"final-state diff: {len(diff)} difference(s)")
    for line in diff[:20]:
        print("  ", line)
    print("charges per period: not measured (this storm has no renewals)")
    print("receipts per invoice: not measured (receipt_email is not driven by this storm)")


if __name__ == "__main__":
    main()
