"""bench/entitlement.py's pure pieces: the load figures, the reads line, the rotation."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

from entitlement import MARKETS, Load, offer_of, reads_line, rotation  # noqa: E402


def test_load_figures_are_requests_per_second_and_nearest_rank_percentiles() -> None:
    load = Load(16, 100, 2.0, tuple([0.010] * 99 + [0.500]), Counter({"200": 100}))
    assert load.per_s == 50.0
    assert load.ms(50) == pytest.approx(10.0) and load.ms(99) == pytest.approx(10.0)
    assert load.ms(100) == pytest.approx(500.0)
    assert load.line() == (
        "HTTP concurrency 16:    50.0 requests/s, p50   10.0 ms, p99   10.0 ms (n=100; 200: 100)"
    )
    assert Load(1, 0, 0.0, (), Counter()).per_s == 0.0


def test_reads_are_per_request_in_total_and_by_rpc() -> None:
    line = reads_line(Counter({"batch_get_documents": 200, "run_query": 0}), 200)
    assert line.startswith("Firestore reads per request: 1.00 (batch_get_documents 1.00;")
    assert "run_query" not in line
    assert "none" in reads_line(Counter(), 5)


def test_requests_rotate_over_the_accounts_and_markets() -> None:
    assert rotation(["a", "b", "c"], 7) == ["a", "b", "c", "a", "b", "c", "a"]
    with pytest.raises(ValueError, match="nothing"):
        rotation([], 3)
    assert offer_of(0) == MARKETS[0] and offer_of(len(MARKETS)) == MARKETS[0]
