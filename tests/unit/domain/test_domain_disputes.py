"""Disputes as a lifecycle: opened, won (access back) or lost (card dropped), each once."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from refrain.domain import ChargebackOpened, ChurnType, EventType, Money, State
from refrain.domain.disputes import record_closing, record_opening
from refrain.domain.inputs import DisputeClosed, RefundIssued
from refrain.domain.machine import due_timers
from refrain.domain.refunds import DisputeStatus, RefundRefused, RefundTally, credit, reserve
from tests.unit.domain.builders import PRICE, T0, active_sub, step

DAY = timedelta(days=1)


def opened(at_days: int = 1, dispute_id: str = "du_1", amount: Money = PRICE) -> ChargebackOpened:
    return ChargebackOpened(
        input_id=f"open-{dispute_id}-{at_days}", occurred_at=T0 + at_days * DAY,
        charge_id="ch_first", amount=amount, dispute_id=dispute_id, payment_ref="pi_1",
        evidence_due_at=T0 + 20 * DAY,
    )  # fmt: skip


def closed(won: bool, at_days: int = 10, dispute_id: str = "du_1") -> DisputeClosed:
    return DisputeClosed(
        input_id=f"close-{dispute_id}-{won}-{at_days}", occurred_at=T0 + at_days * DAY,
        charge_id="ch_first", amount=PRICE, won=won, dispute_id=dispute_id, payment_ref="pi_1",
    )  # fmt: skip


def test_a_won_dispute_gives_back_the_access_it_took_until_the_paid_period_ends() -> None:
    revoked = step(active_sub(), opened()).subscription
    assert revoked.state is State.EXPIRED and revoked.revoked_by == "ch_first"
    won = step(revoked, closed(True))
    assert won.event_types == [EventType.CHARGE_DISPUTE_CLOSED, EventType.RECOVERED]
    assert won.events[0].payload["access_restored"] is True
    back = won.subscription
    assert back.state is State.ACTIVE and back.churn_type is None and back.revoked_by is None
    assert back.next_charge_at == back.current_period_end  # renews as if never disputed
    assert [t.input_id for t in due_timers(back, back.current_period_end)]  # type: ignore[arg-type]


def test_a_dispute_won_after_the_paid_period_ended_only_signals() -> None:
    revoked = step(active_sub(), opened()).subscription
    late = step(revoked, closed(True, at_days=45))
    assert late.event_types == [EventType.CHARGE_DISPUTE_CLOSED]
    assert late.events[0].payload["access_restored"] is False
    assert late.subscription.state is State.EXPIRED


def test_a_lost_dispute_drops_the_card_so_it_is_never_retried() -> None:
    sub = active_sub()
    lost = step(sub, closed(False))  # the policy kept access while it was open
    assert lost.event_types == [EventType.CHARGE_DISPUTE_CLOSED]
    assert lost.events[0].payload["payment_method_blocked"] is True
    assert lost.subscription.payment_method_ref is None
    assert lost.subscription.state is State.ACTIVE
    expired = step(step(sub, opened()).subscription, closed(False)).subscription
    assert expired.state is State.EXPIRED and expired.churn_type is ChurnType.REVOKED


def test_a_dispute_in_another_currency_is_illegal() -> None:
    other = DisputeClosed(
        input_id="x", occurred_at=T0 + DAY, charge_id="ch_first", amount=Money(100, "EUR"),
        won=False,
    )  # fmt: skip
    out = step(active_sub(), other)
    assert not out.applied and "EUR" in (out.reason or "")


def test_each_stage_of_a_dispute_is_recorded_once() -> None:
    tally, why = record_opening(None, opened())
    assert why is None and tally.dispute("du_1") is not None
    again, why = record_opening(tally, opened(at_days=2))  # Adyen: NOTIFICATION, then CHARGEBACK
    assert again == tally and why is not None
    lost, why = record_closing(tally, closed(False))
    assert why is None and lost.dispute("du_1").status is DisputeStatus.LOST  # type: ignore[union-attr]
    assert lost.dispute("du_1").evidence_due_at == T0 + 20 * DAY  # type: ignore[union-attr]
    _, why = record_closing(lost, closed(False, at_days=11))
    assert why is not None
    won, why = record_closing(lost, closed(True, at_days=30))  # pre-arbitration won
    assert why is None and won.dispute("du_1").status is DisputeStatus.WON  # type: ignore[union-attr]


def test_disputed_money_cannot_be_refunded_on_top() -> None:
    tally, _ = record_opening(None, opened())
    try:
        reserve(tally, PRICE, "r1", amount=Money(1, "SEK"), reason="goodwill", now=T0)
    except RefundRefused as exc:
        assert "nothing left" in str(exc) or "exceeds" in str(exc)
    else:
        raise AssertionError("a disputed payment was refunded on top")
    won, _ = record_closing(tally, closed(True))
    assert won.left(PRICE) == PRICE


# Money conservation over any interleaving of operator refunds, provider refunds and dispute
# stages on one payment: every refund is credited exactly once, and what was given back
# (credited refunds + disputes open or lost) never exceeds what was paid, as long as the
# provider refunds and disputes only what it still holds and each dispute is decided once.
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "provider_refund", "open", "won", "lost"]),
        st.integers(1, PRICE.amount),
        st.integers(0, 2),  # which dispute
    ),
    max_size=14,
)


@settings(max_examples=300, deadline=None)
@given(ops=_OPS)
def test_money_given_back_never_exceeds_what_was_paid(ops: list[tuple[str, int, int]]) -> None:
    tally = RefundTally(PRICE.currency)
    provider_total = 0  # what the provider says it refunded (cumulative)
    for n, (op, amount, which) in enumerate(ops):
        held = PRICE.amount - provider_total - tally.disputed()
        if op == "reserve":
            try:
                tally, request = reserve(
                    tally, PRICE, f"r{n}", amount=Money(amount, "SEK"), reason="x", now=T0
                )
            except RefundRefused:
                continue
            provider_total += request.amount  # the gateway refunds it...
            answer = RefundIssued(
                input_id=f"a{n}", occurred_at=T0, charge_id="ch_first", amount=Money(amount, "SEK"),
                refunded_total=Money(provider_total, "SEK"), request_id=f"r{n}",
                refund_id=f"re_{n}", payment_ref="pi_1",
            )  # fmt: skip
            _, tally, _ = credit(tally, answer)  # ...and its answer is credited
        elif op == "provider_refund" and amount <= held:
            provider_total += amount
            report = RefundIssued(
                input_id=f"p{n}", occurred_at=T0, charge_id="ch_first", amount=Money(amount, "SEK"),
                refunded_total=Money(provider_total, "SEK"), payment_ref="pi_1",
            )  # fmt: skip
            _, tally, _ = credit(tally, report)
        elif op == "open" and amount <= held:
            tally, _ = record_opening(
                tally, opened(dispute_id=f"du_{n}", amount=Money(amount, "SEK"))
            )
        elif op in ("won", "lost"):
            undecided = [d for d in tally.disputes if d.status is DisputeStatus.OPEN]
            if not undecided:
                continue
            target = undecided[which % len(undecided)]
            decision = DisputeClosed(
                input_id=f"c{n}", occurred_at=T0, charge_id="ch_first",
                amount=Money(target.amount, "SEK"), won=op == "won", dispute_id=target.dispute_id,
            )  # fmt: skip
            tally, _ = record_closing(tally, decision)
        assert tally.credited == provider_total  # every refund credited exactly once
        assert tally.credited + tally.in_flight() + tally.disputed() <= PRICE.amount
        assert tally.left(PRICE).amount >= 0
