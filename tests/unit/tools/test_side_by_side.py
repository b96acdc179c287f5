"""bench/side_by_side.py's pure pieces: percentiles, the table, the flow corpus."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

from harness.closed_loop import LoadResult, percentile, stripe_signature  # noqa: E402
from harness.stripe_flow import FLOW_LENGTH, build_corpus  # noqa: E402
from harness.table import Row, cpu_split, markdown, ops_text  # noqa: E402
from tests.support import stripe_header  # noqa: E402


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7
    assert percentile([1.0, 2.0], 0) == 1


def test_the_signature_is_stripes() -> None:
    assert stripe_signature("whsec_x", b"{}", 1700000000) == stripe_header(
        b"{}", "whsec_x", 1700000000
    )


def test_a_row_per_run_with_per_event_figures() -> None:
    load = LoadResult(16, wall_s=2.0, latencies_s=[0.010] * 99 + [0.500])
    load.status = Counter({"200": 98, "503": 2})
    row = Row("Refrain", load, app_cpu_s=1.0, store_cpu_s=None, db_ops="2 reads")
    assert row.cells() == (
        "Refrain", "16", "100", "50.0", "10.0", "10.0", "10.0", "-", "2 reads",
        "200: 98, 503: 2",
    )  # fmt: skip
    table = markdown([row]).splitlines()
    assert table[0].startswith("| side | conc | events | events/s |")
    assert len(table) == 3
    assert not load.all_ok


def test_operations_per_event_in_the_order_given() -> None:
    counts = Counter({"writes": 7, "reads": 4})
    assert ops_text(counts, ("reads", "writes", "commits"), 2) == (
        "2.00 reads, 3.50 writes, 0.00 commits"
    )


def test_the_corpus_is_whole_flows_of_distinct_customers() -> None:
    bodies = build_corpus(2 * FLOW_LENGTH + 3, now=1_800_000_000)
    events = [json.loads(b) for b in bodies]
    assert len(events) == 2 * FLOW_LENGTH + 3
    assert len({e["id"] for e in events}) == len(events)
    first, second = events[0], events[FLOW_LENGTH]
    assert first["type"] == second["type"] == "checkout.session.completed"
    assert first["data"]["object"]["customer"] != second["data"]["object"]["customer"]
    assert [e["created"] for e in events] == sorted(e["created"] for e in events)
    created = next(e for e in events if e["type"] == "customer.subscription.created")
    item = created["data"]["object"]["items"]["data"][0]
    assert item["current_period_start"] < 1_800_000_000 < item["current_period_end"]
    assert build_corpus(30, now=1_800_000_000) == build_corpus(30, now=1_800_000_000)


def test_a_warm_up_corpus_shares_no_ids() -> None:
    measured = build_corpus(FLOW_LENGTH, now=1_800_000_000)
    warm = build_corpus(FLOW_LENGTH, now=1_800_000_000, first_flow=90_000)
    assert not {json.loads(b)["id"] for b in measured} & {json.loads(b)["id"] for b in warm}


def test_the_store_share_of_the_cpu() -> None:
    load = LoadResult(1, wall_s=1.0, latencies_s=[0.01] * 10)
    row = Row("Refrain", load, app_cpu_s=0.08, store_cpu_s=0.12, db_ops="")
    assert cpu_split(row) == (
        "Refrain c=1: application 8.0 ms CPU/event with the store excluded, "
        "20.0 ms with it (the store's share 60%)"
    )
    unmeasured = Row("peer", load, app_cpu_s=None, store_cpu_s=0.1, db_ops="")
    assert cpu_split(unmeasured) == "peer c=1: CPU not measured"
