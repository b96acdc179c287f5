"""Reliability storm: every provider event and every downstream message three times.

Usage: .venv/bin/python bench/storm.py [--events 10000] [--workers 16] [--port-base 9970]

Starts its own local stack (own ports, own state dir) and builds a simulator
corpus (Stripe merchant checkouts + refunds/disputes, Stripe Billing created/
checkout/invoices/cancel-at-period-end, Adyen authorisations + refunds; event
times increasing per subscription). Then, in-process against the stack
(tests/integration/reliability/pipeline.py):

1. webhook storm: every event three times, shuffled, 16 at a time, through the
   real WebhookService;
2. downstream: every message it published taken off ``receipt-email`` and
   ``churn-export`` and handed three times, shuffled, 16 at a time, to the
   receipt service and to the real churn export flush (MERGE on signal_id);
3. renewals: the real tick past the merchant-managed periods' end, each
   ``renewal-charge`` message three times to the charge worker (sandbox
   gateway), and their receipts and churn rows downstream as in 2;

then resets and runs the same corpus once, in order (provider-time order per
subscription, subscriptions in parallel: storm.deliver_in_order says why that
is the same as one global order), and diffs the two. Prints the figures; no
assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.reliability.pipeline import (  # noqa: E402
    PipelineRun,
    event_deficit,
    figures,
    run_pipeline,
)
from tests.integration.reliability.storm import build_corpus  # noqa: E402

from refrain_tools.stack.config import StackConfig  # noqa: E402
from refrain_tools.stack.manager import StackManager  # noqa: E402
from refrain_tools.stack.seed import pointed_at  # noqa: E402


def _histogram(counter: Counter[int]) -> str:
    if not counter:
        return "none"
    return f"max {max(counter)}, histogram {dict(sorted(counter.items()))}"


def report(storm: PipelineRun, ordered: PipelineRun, corpus_events: int, subs: int) -> None:
    s, o = storm.counts, ordered.counts
    w = storm.webhook.as_dict()
    diff = storm.state.diff(ordered.state)
    downstream_dups = sum(x.deliveries - x.messages for x in storm.receipts)
    downstream_dups += sum(c.stage.deliveries - c.stage.messages for c in storm.churn)
    renewal = storm.renewals
    downstream_dups += renewal.stage.deliveries - renewal.stage.messages
    calls = sum(renewal.sandbox.calls.values())
    print(f"corpus: {corpus_events} provider events, {subs} subscriptions")
    print(f"events delivered: {w['deliveries']} webhook deliveries ({w['duplicates']} "
          f"duplicates, {w['posts']} POSTs, statuses {w['statuses']}, gave up {w['gave_up']}); "
          f"downstream deliveries {sum(x.deliveries for x in storm.receipts)} receipts + "
          f"{sum(c.stage.deliveries for c in storm.churn)} churn + "
          f"{renewal.stage.deliveries} renewal charges ({downstream_dups} duplicates)")  # fmt: skip
    print(f"final-state diff: {len(diff)} difference(s)")
    for line in diff[:20]:
        print("   ", line)
    print(f"charges per period: {_histogram(Counter(renewal.sandbox.successes.values()))}; "
          f"due {renewal.due} (in order {ordered.renewals.due}); charges {renewal.sandbox.charges} "
          f"(in order {ordered.renewals.sandbox.charges}); gateway calls "
          f"{calls} on {len(renewal.sandbox.calls)} keys")  # fmt: skip
    print(f"receipts per invoice/credit note: {_histogram(s.mails_per_document)}; "
          f"documents {dict(s.invoices)} (in order {dict(o.invoices)}); e-mails {s.mails}; "
          f"e-mail events published: storm {dict(s.receipt_events)}, in order "
          f"{dict(o.receipt_events)}; "
          f"without a sent record {len(s.documents_not_sent)}; notices per notice "
          f"{_histogram(s.mails_per_notice)}")  # fmt: skip
    signals = set().union(*(c.signals for c in storm.churn))
    print(f"churn rows per signal: {_histogram(s.rows_per_signal)}; rows {s.rows} for "
          f"{len(signals)} distinct signals published (in order {o.rows} rows)")  # fmt: skip
    deficit = event_deficit(s, o)
    lost: Counter[str] = Counter()
    for d in deficit.values():
        lost.update(d)
    print(f"domain events published: storm {s.published}, in order {o.published}; "
          f"differing subscriptions {len(deficit)}, in-order minus storm by type "
          f"{dict(lost)}")  # fmt: skip
    for sid, d in list(deficit.items())[:10]:
        print("   ", sid, d)
    print(f"wall time per stage, storm (s): {storm.seconds}")
    print(f"wall time per stage, in order (s): {ordered.seconds}")
    print("--- details, storm")
    print(*figures(storm), sep="\n")
    print("--- details, in order")
    print(*figures(ordered), sep="\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=9970)
    parser.add_argument(
        "--reference",
        choices=("light", "full"),
        default="light",
        help="light: the in-order run counts the e-mails its events call for instead of "
        "rendering and sending them (the PDFs are most of its time); full: sends them",
    )
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="refrain-bench-storm-"))
    manager = StackManager(StackConfig(port_base=args.port_base, state_dir=state_dir))
    up_s = manager.up()
    logs = io.StringIO()  # the services log one JSON line per request: keep them off the figures
    started = time.perf_counter()
    try:
        with pointed_at(manager.config) as cloud, contextlib.redirect_stdout(logs):
            corpus = build_corpus(args.events, seed=args.seed)
            manager.reset()
            storm = run_pipeline(
                cloud, manager.config, corpus, storm=True, copies=args.copies,
                workers=args.workers, seed=args.seed,
            )  # fmt: skip
            # The storm's own figures first (stdout is captured here): a 10,000-event run
            # takes half an hour, and what it measured must survive a failing reference run.
            print("--- storm", *figures(storm), sep="\n", file=sys.__stdout__, flush=True)
            # A fresh stack rather than a reset: emptying a Firestore emulator that holds
            # the storm's documents can take longer than its HTTP reset call allows.
            manager.down()
            manager.up()
            ordered = run_pipeline(
                cloud, manager.config, corpus, storm=False, workers=args.workers, seed=args.seed,
                send_receipts=args.reference == "full",
            )  # fmt: skip
    finally:
        manager.down()
    print(f"stack up: {up_s:.1f} s (port base {args.port_base}); workers {args.workers}, "
          f"copies {args.copies}")  # fmt: skip
    report(storm, ordered, len(corpus.deliveries), len(corpus.subscriptions))
    print(f"total wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
