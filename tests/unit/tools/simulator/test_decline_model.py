"""The simulator's decline model: shares, network rules, paydays, common random numbers."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from refrain_tools.simulator.decline_model import (
    REASONS,
    DeclineModel,
    Recovery,
    paydays,
)

pytestmark = pytest.mark.unit
MODEL = DeclineModel(seed=7)
FAILED = datetime(2027, 3, 3, 10, tzinfo=UTC)  # a Wednesday


def test_shares_sum_to_one_and_are_drawn_as_declared() -> None:
    assert sum(r.share for r in REASONS) == pytest.approx(1.0)
    drawn = Counter(MODEL.reason(f"s{i}", 1).code for i in range(20_000))
    for reason in REASONS:
        assert drawn[reason.code] / 20_000 == pytest.approx(reason.share, abs=0.01)
    common = sum(r.share for r in REASONS if r.code in ("insufficient_funds", "do_not_honor"))
    assert common == pytest.approx(0.70)  # about 70% (Adyen)


def test_hard_declines_are_network_do_not_retry_and_never_recover() -> None:
    hard = [r for r in REASONS if r.hard]
    assert hard and all(r.visa_category == 1 or r.mastercard_advice in ("03", "21") for r in hard)
    for reason in hard:
        for hours in range(0, 24 * 60, 7):
            at = FAILED + timedelta(hours=hours)
            assert not MODEL.attempt_succeeds("s1", reason, "SE", FAILED, at, noticed=True)


def test_paydays_follow_the_market_and_move_off_weekends() -> None:
    assert paydays("SE", 2027, 4) == [date(2027, 4, 23)]  # the 25th is a Sunday
    assert paydays("US", 2027, 5) == [date(2027, 4, 30), date(2027, 5, 14)]  # 1st, 15th: weekend
    assert paydays("DE", 2027, 2) == [date(2027, 2, 26)]  # last working day


def test_insufficient_funds_recover_after_payday() -> None:
    funds = next(r for r in REASONS if r.recovery is Recovery.PAYDAY)
    noon = FAILED.replace(hour=12)
    before = MODEL.success_chance(funds, "SE", FAILED, noon.replace(day=20))
    after = MODEL.success_chance(funds, "SE", FAILED, noon.replace(day=26))  # payday the 25th
    assert after > 5 * before
    tries = [MODEL.attempt_succeeds(f"s{i}", funds, "SE", FAILED, noon.replace(day=26))
             for i in range(4000)]  # fmt: skip
    assert sum(tries) / 4000 == pytest.approx(0.55, abs=0.03)


def test_a_stale_card_recovers_only_once_replaced_and_a_notice_helps() -> None:
    stale = next(r for r in REASONS if r.code == "expired_card")
    week = FAILED + timedelta(days=7, hours=2)
    plain = sum(MODEL.attempt_succeeds(f"s{i}", stale, "DE", FAILED, week) for i in range(4000))
    told = sum(MODEL.attempt_succeeds(f"s{i}", stale, "DE", FAILED, week, noticed=True)
               for i in range(4000))  # fmt: skip
    assert plain / 4000 < 0.03 and 0.22 < told / 4000 < 0.32
    assert not MODEL.attempt_succeeds("s1", stale, "DE", FAILED, FAILED)


def test_outcomes_depend_on_the_hour_not_on_who_asks_or_in_which_order() -> None:
    funds = REASONS[0]
    hours = [FAILED + timedelta(hours=h) for h in range(0, 24 * 30, 5)]
    forward = [MODEL.attempt_succeeds("s9", funds, "US", FAILED, at) for at in hours]
    backward = [MODEL.attempt_succeeds("s9", funds, "US", FAILED, at) for at in reversed(hours)]
    assert forward == list(reversed(backward))
    same_hour = hours[3].replace(minute=41)
    assert MODEL.attempt_succeeds("s9", funds, "US", FAILED, same_hour) == forward[3]
    assert DeclineModel(seed=8).reason("s9", 1) == DeclineModel(seed=8).reason("s9", 1)
