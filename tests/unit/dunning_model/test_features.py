"""Features: local time and paydays in the market's zone; attempts assembled from signals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.dunning_model import AttemptContext, best_time, encode, load_model
from refrain_tools.models.dataset import assemble


def _ctx(at: datetime, market: str = "SE", category: str = "insufficient_funds") -> AttemptContext:
    return AttemptContext(category, 2, market, at - timedelta(hours=30), at)


def test_local_time_and_paydays_in_the_market_zone() -> None:
    # 2027-01-24 23:30 UTC is Monday 25 January 00:30 in Stockholm: the Swedish payday.
    f = encode(_ctx(datetime(2027, 1, 24, 23, 30, tzinfo=UTC)))
    assert (f["local_hour"], f["local_weekday"], f["local_day"]) == (0.0, 0.0, 25.0)
    assert (f["days_since_payday"], f["days_to_payday"]) == (0.0, 0.0)
    assert f["hours_since_failure"] == 30.0
    assert f["category=insufficient_funds"] == f["market=SE"] == 1.0


def test_a_weekend_payday_moves_to_the_friday_before() -> None:
    # 25 September 2027 is a Saturday: Swedes are paid on Friday the 24th.
    f = encode(_ctx(datetime(2027, 9, 26, 12, tzinfo=UTC)))
    assert f["days_since_payday"] == 2.0
    f = encode(_ctx(datetime(2027, 9, 23, 12, tzinfo=UTC)))
    assert f["days_to_payday"] == 1.0


def test_us_paydays_are_the_first_and_fifteenth() -> None:
    f = encode(_ctx(datetime(2027, 3, 17, 15, tzinfo=UTC), market="us"))
    assert (f["days_since_payday"], f["days_to_payday"], f["local_hour"]) == (2.0, 15.0, 11.0)
    assert f["market=US"] == 1.0


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        encode(AttemptContext("other", 2, "SE", datetime(2027, 1, 1), datetime(2027, 1, 2)))


def _signal(kind: str, at: datetime, seq: int, **extra: Any) -> dict[str, Any]:
    return {"subscription_key": extra.pop("key", "s1"), "sequence": seq, "signal_type": kind,
            "occurred_at": at, "market": "DE", "attempt": extra.get("attempt"),
            "decline_category": extra.get("category")}  # fmt: skip


def test_attempts_come_from_a_period_of_payment_signals() -> None:
    t0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
    signals = [
        _signal("payment_failed", t0, 1, attempt=1, category="insufficient_funds"),
        _signal("dunning_retry", t0 + timedelta(days=1), 2, attempt=2, category="do_not_honor"),
        _signal("recovered", t0 + timedelta(days=3), 3),
        _signal("dunning_retry", t0 + timedelta(days=4), 4, attempt=2, category="other"),  # orphan
        _signal("dunning_retry", t0, 1, key="s2", attempt=2, category="other"),  # no failure seen
    ]
    out = assemble(signals, t0, t0 + timedelta(days=30))
    assert [(a.context.attempt, a.context.decline_category, a.succeeded) for a in out] == [
        (2, "insufficient_funds", False),
        (3, "do_not_honor", True),  # the retry's own decline category carries forward
    ]
    assert all(a.context.failed_at == t0 for a in out)
    assert assemble(signals, t0 + timedelta(days=2), t0 + timedelta(days=30))[0].succeeded


def _hour_model() -> Any:
    """One split on the local hour: hours after 9 score higher."""
    return load_model(json.dumps({
        "format": "refrain.dunning_model", "format_version": 1, "model": "dunning",
        "version": 4, "features": ["local_hour"], "baseline": 0.0,
        "trees": [{"feature": [0, -1, -1], "threshold": [9.5, 0, 0], "missing_left": [0, 0, 0],
                   "left": [1, 0, 0], "right": [2, 0, 0], "value": [0, -1.0, 1.0]}],
    }).encode())  # fmt: skip


def test_best_time_takes_the_highest_score_and_the_earliest_on_ties() -> None:
    model = _hour_model()
    day = datetime(2027, 2, 2, tzinfo=UTC)  # Stockholm is UTC+1 in winter
    candidates = [day + timedelta(hours=h) for h in (14, 5, 10, 3)]
    best = best_time(model, candidates, _ctx)
    assert best is not None
    assert best[0] == day + timedelta(hours=10)  # 11:00 local, earlier than 15:00
    assert best_time(model, [], _ctx) is None


@given(st.lists(st.integers(0, 24 * 14), min_size=1, max_size=20))
def test_best_time_is_one_of_the_candidates_with_the_top_score(hours: list[int]) -> None:
    model = _hour_model()
    day = datetime(2027, 2, 2, tzinfo=UTC)
    candidates = [day + timedelta(hours=h) for h in hours]
    best = best_time(model, candidates, _ctx)
    assert best is not None and best[0] in candidates
    assert best[1] == max(model.score(_ctx(c)) for c in candidates)
