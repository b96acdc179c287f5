"""The refunds of one payment: each refund credited once, never more than was paid."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refrain.domain.inputs import RefundIssued
from refrain.domain.money import Money
from refrain.domain.refunds import (
    RefundRefused,
    RefundTally,
    RequestStatus,
    credit,
    reserve,
    settle,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PAID = Money(11_900, "SEK")


def refund(amount: int, **kw: object) -> RefundIssued:
    return RefundIssued(
        input_id=f"evt-{amount}-{kw}",
        occurred_at=NOW,
        charge_id="pi_1",
        amount=Money(amount, "SEK"),
        payment_ref="pi_1",
        **kw,  # type: ignore[arg-type]
    )


def test_a_refund_id_is_credited_once() -> None:
    adds, tally, _ = credit(None, refund(500, refund_id="r1"))
    again, tally, why = credit(tally, refund(500, refund_id="r1"))
    assert (adds, again, tally.credited) == (500, 0, 500)
    assert why is not None and "r1" in why


def test_a_cumulative_total_credits_what_it_adds_in_any_order() -> None:
    total = Money(900, "SEK")
    adds, tally, _ = credit(None, refund(400, refunded_total=total))
    older, tally, _ = credit(tally, refund(500, refunded_total=Money(500, "SEK")))
    assert (adds, older, tally.credited) == (900, 0, 900)


def test_operator_answer_and_provider_webhook_meet_without_double_credit() -> None:
    tally, _ = reserve(None, PAID, "req-1", amount=Money(3_000, "SEK"), reason="goodwill", now=NOW)
    assert tally.left(PAID) == Money(8_900, "SEK")
    # The webhook (cumulative, no ids) commits before the operator's own answer.
    hook, tally, _ = credit(tally, refund(3_000, refunded_total=Money(3_000, "SEK")))
    answer, tally, _ = credit(
        tally,
        refund(3_000, refunded_total=Money(3_000, "SEK"), refund_id="re_1", request_id="req-1"),
    )
    assert (hook, answer, tally.credited) == (3_000, 0, 3_000)
    assert tally.request("req-1") is not None
    assert tally.request("req-1").status is RequestStatus.CREDITED  # type: ignore[union-attr]
    assert tally.left(PAID) == Money(8_900, "SEK")


def test_reservation_refuses_more_than_is_left() -> None:
    tally, _ = reserve(None, PAID, "a", amount=Money(10_000, "SEK"), reason="duplicate", now=NOW)
    with pytest.raises(RefundRefused, match="exceeds what is left"):
        reserve(tally, PAID, "b", amount=Money(2_000, "SEK"), reason="duplicate", now=NOW)
    tally, full = reserve(tally, PAID, "c", amount=None, reason="rest", now=NOW)
    assert full.amount == 1_900
    with pytest.raises(RefundRefused, match="nothing left"):
        reserve(tally, PAID, "d", amount=None, reason="again", now=NOW)


def test_the_same_request_id_is_the_same_refund() -> None:
    tally, first = reserve(None, PAID, "a", amount=Money(100, "SEK"), reason="x", now=NOW)
    same, again = reserve(tally, PAID, "a", amount=Money(100, "SEK"), reason="x", now=NOW)
    assert (same, again) == (tally, first)
    with pytest.raises(RefundRefused, match="was a refund of"):
        reserve(tally, PAID, "a", amount=Money(200, "SEK"), reason="x", now=NOW)


@pytest.mark.parametrize(
    ("amount", "reason", "match"),
    [
        (Money(-1, "SEK"), "x", "must be positive"),
        (Money(0, "SEK"), "x", "must be positive"),
        (Money(100, "EUR"), "x", "in EUR"),
        (Money(100, "SEK"), "  ", "needs a reason"),
    ],
)
def test_bad_refund_requests_are_refused(amount: Money, reason: str, match: str) -> None:
    with pytest.raises(RefundRefused, match=match):
        reserve(None, PAID, "a", amount=amount, reason=reason, now=NOW)


def test_a_refused_refund_is_released_and_a_quick_notification_completes_one() -> None:
    tally, _ = reserve(None, PAID, "a", amount=Money(5_000, "SEK"), reason="x", now=NOW)
    released = settle(tally, "a", None, ok=False)
    assert released.left(PAID) == PAID
    # Adyen: the REFUND notification (by refund id) is credited before the answer is recorded.
    _, quick, _ = credit(tally, refund(5_000, refund_id="psp-9"))
    done = settle(quick, "a", "psp-9", ok=True)
    assert done.request("a").status is RequestStatus.CREDITED  # type: ignore[union-attr]
    assert done.left(PAID) == Money(6_900, "SEK")


def test_tally_round_trips_through_its_stored_form() -> None:
    tally, _ = reserve(None, PAID, "a", amount=Money(5_000, "SEK"), reason="x", now=NOW)
    tally = settle(tally, "a", "psp-1", ok=True)
    _, tally, _ = credit(tally, refund(700, refund_id="psp-2"))
    assert RefundTally.from_dict(tally.to_dict()) == tally


def test_a_refund_in_another_currency_is_refused() -> None:
    _, tally, _ = credit(None, refund(100, refund_id="r"))
    other = RefundIssued(
        input_id="e", occurred_at=NOW, charge_id="pi_1", amount=Money(1, "EUR"), payment_ref="pi_1"
    )
    with pytest.raises(RefundRefused):
        credit(tally, other)


# Money conservation: Stripe reports cumulative totals, Adyen one id per refund, operators
# answer with both; delivered in any order, any number of times, the credited sum is exactly
# what the provider refunded.
_STRIPE_STEPS = st.lists(st.integers(1, 2_000), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(steps=_STRIPE_STEPS, data=st.data())
def test_cumulative_reports_in_any_order_credit_exactly_the_provider_total(
    steps: list[int], data: st.DataObject
) -> None:
    totals = [sum(steps[: i + 1]) for i in range(len(steps))]
    pairs = zip(steps, totals, strict=True)
    reports = [refund(s, refunded_total=Money(t, "SEK")) for s, t in pairs]
    delivered = data.draw(st.lists(st.sampled_from(reports), min_size=1, max_size=12))
    delivered.append(reports[-1])  # the last one arrives at some point
    tally, credited = None, 0
    for report in data.draw(st.permutations(delivered)):
        adds, tally, _ = credit(tally, report)
        assert adds >= 0
        credited += adds
    assert tally is not None
    assert credited == tally.credited == totals[-1]


@settings(max_examples=300, deadline=None)
@given(
    amounts=st.lists(st.integers(1, 3_000), min_size=1, max_size=6),
    data=st.data(),
)
def test_refunds_by_id_in_any_order_and_repeats_credit_each_once(
    amounts: list[int], data: st.DataObject
) -> None:
    reports = [refund(a, refund_id=f"psp-{i}") for i, a in enumerate(amounts)]
    delivered = [*reports, *data.draw(st.lists(st.sampled_from(reports), max_size=10))]
    tally, credited = None, 0
    for report in data.draw(st.permutations(delivered)):
        adds, tally, _ = credit(tally, report)
        credited += adds
    assert credited == sum(amounts)


@settings(max_examples=200, deadline=None)
@given(asks=st.lists(st.one_of(st.none(), st.integers(1, 15_000)), min_size=1, max_size=8))
def test_operator_reservations_never_exceed_what_was_paid(asks: list[int | None]) -> None:
    tally: RefundTally | None = None
    for i, ask in enumerate(asks):
        amount = None if ask is None else Money(ask, "SEK")
        try:
            tally, _ = reserve(tally, PAID, f"r{i}", amount=amount, reason="why", now=NOW)
        except RefundRefused:
            continue
        assert tally.credited + tally.in_flight() <= PAID.amount
