"""The whole topology on the local stack: functions served by functions-framework,
Pub/Sub pushing to them, the provider simulator delivering webhooks and answering
renewal charges, months passing on the shared clock, and every invariant checked
from what the stores hold afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from refrain.demo.run import DemoOptions, DemoRun
from refrain.settings import CloudSettings
from refrain.stack.manager import StackManager


@pytest.mark.timeout(600)
def test_a_small_business_runs_end_to_end_and_keeps_every_invariant(
    stack: StackManager, cloud: CloudSettings, tmp_path: Path
) -> None:
    options = DemoOptions(customers=20, months=2, seed=11, out_dir=tmp_path)
    run = DemoRun(stack, cloud, options)
    steps: list[str] = []
    run.start()
    try:
        run.signups(lambda name, done, total: steps.append(name))
        run.first_weeks(lambda name, done, total: steps.append(name))
        run.months_pass(lambda name, done, total: steps.append(name))
        summary, stats = run.summarise()
    finally:
        run.stop()

    broken = [c for c in summary.checks if not c.ok]
    assert not broken, broken
    assert len(summary.checks) >= 8
    # Everyone signed up, through both providers.
    assert sum(summary.states.values()) == options.customers
    assert {"stripe / merchant_managed", "adyen / merchant_managed"} <= set(summary.modes)
    # Renewals happened, and the bad cards went all the way through dunning.
    signals = dict(summary.signals)
    assert signals.get("activated") == options.customers
    assert signals.get("renewed", 0) > 0
    assert signals.get("payment_failed", 0) > 0
    assert summary.states.get("expired", 0) > 0
    for kind in ("cancel_requested", "cancel_reverted", "plan_changed", "refunded", "chargeback"):
        assert signals.get(kind, 0) >= 1, kind
    # Receipts were mailed, with a rendered sample kept for people to look at.
    assert summary.receipts_sent > options.customers
    assert summary.sample_pdf is not None and summary.sample_pdf.read_bytes().startswith(b"%PDF")
    assert summary.sample_html is not None and "<html" in summary.sample_html.read_text().lower()
    # Money came in, in several currencies, as integer minor units.
    assert len(summary.revenue) >= 5
    assert all(isinstance(m.amount, int) for m in summary.revenue.values())
    # The simulator really did duplicate and reorder deliveries.
    deliveries = stats["webhook deliveries"]
    assert isinstance(deliveries, dict)
    assert deliveries["duplicated"] > 0 and deliveries["reordered"] > 0
