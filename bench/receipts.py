"""Receipts rendered per second, and invoices numbered per second per legal entity.

Run: .venv/bin/python bench/receipts.py [--renders 300] [--invoices 200]

Rendering is pure (HTML + text, then with the PDF attachment). Numbering runs
against the Firestore emulator: it reuses a stack already answering on
--port-base, or starts its own there and stops it afterwards. Invoices of
one legal entity (Refrain AB, market SE) are spread over N parallel series
by subscription hash; each series is gapless. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.unit.invoicing.factories import invoice_paid  # noqa: E402

from refrain.domain import load_catalog  # noqa: E402
from refrain.invoicing import build_invoice  # noqa: E402
from refrain.invoicing.i18n import localizer_for  # noqa: E402
from refrain.invoicing.pdf import render_pdf  # noqa: E402
from refrain.invoicing.render import render_receipt  # noqa: E402
from refrain_tools.stack.config import StackConfig  # noqa: E402
from refrain_tools.stack.manager import StackManager, port_open  # noqa: E402

CATALOG = load_catalog()
LOCALES = [("SE", 13900, "SEK", "sv_SE"), ("DE", 1099, "EUR", "de_DE"),
           ("JP", 1080, "JPY", "ja_JP"), ("BR", 2190, "BRL", "pt_BR")]  # fmt: skip


def bench_render(n: int) -> None:
    invoices = [
        (build_invoice(invoice_paid(market=m, amount=a, currency=c), CATALOG, loc, 8)
         .numbered(i + 1), localizer_for(loc, "en"))
        for i, (m, a, c, loc) in enumerate(LOCALES)
    ]  # fmt: skip
    render_receipt(*invoices[0], "Kim")  # warm templates
    render_pdf(*invoices[0])  # and the font
    start = time.perf_counter()
    for i in range(n):
        inv, loc = invoices[i % len(invoices)]
        render_receipt(inv, loc, "Kim")
    text_rate = n / (time.perf_counter() - start)
    m = max(20, n // 10)
    start = time.perf_counter()
    for i in range(m):
        inv, loc = invoices[i % len(invoices)]
        render_receipt(inv, loc, "Kim")
        render_pdf(inv, loc)
    pdf_rate = m / (time.perf_counter() - start)
    print(f"render HTML+text:        {text_rate:8.0f} receipts/s  ({n} receipts, 4 locales)")
    print(f"render HTML+text+PDF:    {pdf_rate:8.1f} receipts/s  ({m} receipts)")


def bench_numbering(config: StackConfig, count: int) -> None:
    os.environ.update(config.client_environment())
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_invoices import FirestoreInvoiceStore
    from refrain.settings import CloudSettings

    db = build_firestore(CloudSettings())
    run = int(time.time())
    for shards, workers in ((1, 8), (8, 8), (8, 16), (16, 32)):
        store = FirestoreInvoiceStore(db)
        drafts = [
            build_invoice(
                invoice_paid(charge_id=f"b{run}_{shards}_{workers}_{i}",
                             subscription_id=f"bsub_{run}_{i}"),
                CATALOG, "sv_SE", shards,
            )
            for i in range(count)
        ]  # fmt: skip
        # Fresh series per run: the prefix is per market, so vary the subscription ids only;
        # counters continue where an earlier run left them, still gapless.
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(store.finalise, drafts))
        elapsed = time.perf_counter() - start
        series = len({inv.series for inv in done})
        print(
            f"numbering refrain_ab:    {count / elapsed:8.1f} invoices/s  "
            f"({count} invoices, {series} series, {workers} workers)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=300)
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--port-base", type=int, default=8900)
    args = parser.parse_args()
    bench_render(args.renders)
    config = StackConfig(port_base=args.port_base, state_dir=ROOT / ".refrain" / "bench-stack")
    manager = StackManager(config)
    started = False
    if not port_open(config.host, config.firestore_port):
        print(f"starting a local stack on port base {args.port_base} ...")
        manager.up()
        started = True
    else:
        print(f"reusing the stack answering on port base {args.port_base}")
    try:
        bench_numbering(config, args.invoices)
    finally:
        if started:
            manager.down()


if __name__ == "__main__":
    main()
