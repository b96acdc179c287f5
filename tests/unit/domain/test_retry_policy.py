"""Retry policies: whatever they propose, no network rule, budget or window is ever broken."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refrain.domain import DEFAULT_POLICY, EventType, PaymentFailed, RenewalDue, State
from refrain.domain.declines import Decline, DeclineCategory
from refrain.domain.paydays import market_zone, paydays
from refrain.domain.retry import (
    NETWORK_MAX_RETRIES_30D,
    FixedRetry,
    RetryContext,
    context_for,
    network_forbids,
    schedule,
)
from refrain.domain.smart_retry import SmartRetry, decide_retry, policy_for

from .builders import T0, active_sub, new_id, step

pytestmark = pytest.mark.unit
BUDGET = len(DEFAULT_POLICY.retry_offsets)

declines = st.builds(
    Decline,
    category=st.sampled_from(list(DeclineCategory)),
    hard=st.booleans(),
    code=st.none(),
    provider=st.none(),
    network_category=st.sampled_from([None, 1, 2, 3, 4]),
    advice_code=st.sampled_from([None, "01", "02", "03", "21", "24", " 03"]),
)
anchors = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2029, 12, 31), timezones=st.just(UTC)
)
markets = st.sampled_from(["SE", "US", "JP", "BR", "GB", "DE", "AU", "ZZ"])
delays = st.lists(st.integers(min_value=0, max_value=3600), min_size=20, max_size=20)


def walk(
    variant: str, decline: Decline, anchor: datetime, market: str, delays: list[int]
) -> list[tuple[RetryContext, datetime]]:
    """Every attempt of one period fails: the retries the policy makes, and its contexts."""
    failed_at = anchor + timedelta(seconds=delays[0])
    made: list[tuple[RetryContext, datetime]] = []
    for i in range(1, 20):
        ctx = context_for(
            decline=decline, anchor=anchor, failed_at=failed_at, failed_attempts=i,
            market=market, zone=market_zone(market), dunning=DEFAULT_POLICY,
        )  # fmt: skip
        decision = schedule(policy_for(variant, DEFAULT_POLICY), ctx)
        if decision.at is None:
            break
        made.append((ctx, decision.at))
        failed_at = decision.at + timedelta(seconds=delays[i])  # that retry failed too
    return made


@settings(max_examples=300, deadline=None)
@given(decline=declines, anchor=anchors, market=markets, delays=delays)
def test_no_policy_breaks_a_rule(
    decline: Decline, anchor: datetime, market: str, delays: list[int]
) -> None:
    for variant in ("fixed", "smart"):
        made = walk(variant, decline, anchor, market, delays)
        if network_forbids(decline):
            assert made == []  # Visa 1, Mastercard 03/21, hard: never
        assert len(made) <= BUDGET  # never more retries than the fixed schedule
        assert len(made) <= NETWORK_MAX_RETRIES_30D
        window_end = anchor + DEFAULT_POLICY.grace_period + DEFAULT_POLICY.hold_period
        assert window_end - anchor <= timedelta(days=30)  # so every retry counts in 30 days
        for ctx, at in made:
            assert ctx.failed_at < at < ctx.hold_until == window_end
        times = [at for _, at in made]
        assert times == sorted(times)


@settings(max_examples=100, deadline=None)
@given(decline=declines, anchor=anchors, market=markets, delays=delays)
def test_smart_never_makes_more_attempts_than_fixed_can(
    decline: Decline, anchor: datetime, market: str, delays: list[int]
) -> None:
    assert len(walk("smart", decline, anchor, market, delays)) <= BUDGET


def test_a_proposal_outside_the_window_is_refused() -> None:
    class Late:
        version = "late/0"

        def propose(self, ctx: RetryContext) -> datetime:
            return ctx.hold_until

    ctx = _ctx(DeclineCategory.DO_NOT_HONOR)
    decision = schedule(Late(), ctx)
    assert decision.at is None and decision.reason == "proposal outside the dunning window"


def _ctx(category: DeclineCategory, at: datetime = T0, market: str = "SE") -> RetryContext:
    return context_for(
        decline=Decline(category, False), anchor=at, failed_at=at, failed_attempts=1,
        market=market, zone=market_zone(market), dunning=DEFAULT_POLICY,
    )  # fmt: skip


def test_insufficient_funds_waits_for_the_local_payday() -> None:
    anchor = datetime(2027, 3, 2, 12, tzinfo=UTC)  # Sweden: paid on the 25th
    chosen = []
    ctx = _ctx(DeclineCategory.INSUFFICIENT_FUNDS, anchor)
    for _ in range(BUDGET):
        at = SmartRetry(DEFAULT_POLICY).propose(ctx)
        assert at is not None
        chosen.append(at)
        ctx = replace(ctx, failed_at=at, retries_made=ctx.retries_made + 1)
    payday = paydays("SE", 2027, 3)[0]
    local_days = {at.astimezone(market_zone("SE")).date() for at in chosen}
    assert {payday, payday + timedelta(days=1), payday + timedelta(days=2)} <= local_days


def test_processing_error_is_retried_within_hours() -> None:
    at = SmartRetry(DEFAULT_POLICY).propose(_ctx(DeclineCategory.PROCESSING_ERROR))
    assert at is not None and at - T0 <= timedelta(hours=12)
    fixed = FixedRetry(DEFAULT_POLICY).propose(_ctx(DeclineCategory.PROCESSING_ERROR))
    assert fixed == T0 + timedelta(days=1)


def test_no_retry_at_night_local_time() -> None:
    for market in ("JP", "US", "SE"):
        at = SmartRetry(DEFAULT_POLICY).propose(_ctx(DeclineCategory.DO_NOT_HONOR, T0, market))
        assert at is not None and not 1 <= at.astimezone(market_zone(market)).hour < 6


def test_the_machine_schedules_by_the_variant_and_names_the_policy() -> None:
    for variant, policy in (("smart", "smart/1"), (None, "fixed/1"), ("fixed", "fixed/1")):
        sub = active_sub()
        due = sub.next_charge_at
        assert due is not None
        sub = step(sub, RenewalDue(input_id=new_id(), occurred_at=due)).subscription
        at = due + timedelta(seconds=5)
        decline = Decline(DeclineCategory.INSUFFICIENT_FUNDS, False, "insufficient_funds")
        out = step(sub, PaymentFailed(
            input_id=new_id(), occurred_at=at, charge_id=new_id("ch"), amount=sub.price,
            decline=decline, charge_period=sub.billing_anchor, attempt=sub.attempt,
            retry_variant=variant,
        ))  # fmt: skip
        assert out.subscription.state is State.PAST_DUE
        expected = decide_retry(variant, DEFAULT_POLICY, decline=decline, anchor=sub.billing_anchor,
                                failed_at=at, failed_attempts=1, market=sub.market)  # fmt: skip
        assert out.subscription.next_charge_at == expected.at is not None
        if variant != "smart":
            assert expected.at == sub.billing_anchor + DEFAULT_POLICY.retry_offsets[0]
        failed = next(e for e in out.events if e.type is EventType.PAYMENT_FAILED)
        assert failed.payload["retry_policy"] == policy


def test_advice_code_03_blocks_retries_like_a_hard_decline() -> None:
    sub = active_sub()
    due = sub.next_charge_at
    assert due is not None
    sub = step(sub, RenewalDue(input_id=new_id(), occurred_at=due)).subscription
    decline = Decline(DeclineCategory.DO_NOT_HONOR, False, "do_not_honor", advice_code="03")
    out = step(sub, PaymentFailed(
        input_id=new_id(), occurred_at=due, charge_id=new_id("ch"),
        amount=sub.price, decline=decline, charge_period=sub.billing_anchor,
        attempt=sub.attempt, retry_variant="smart",
    ))  # fmt: skip
    assert out.subscription.next_charge_at is None and out.subscription.retry_blocked
