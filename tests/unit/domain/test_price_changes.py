"""Price changes: which renewal first charges the new price, consent, grandfathering."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from refrain.domain import BillingMode, Money, RenewalDue, State, Subscription
from refrain.domain.events import EventType, validate_event
from refrain.domain.inputs import (
    CancelRequested,
    GrandfatherSet,
    PriceChangeNoticed,
    PriceConsentGiven,
    ProviderStateReported,
    ProviderStatus,
)
from refrain.domain.price_changes import first_renewal_at_new_price, renewal_dates
from refrain.domain.subscription import ChurnType, add_months
from tests.unit.domain.builders import PRICE, T0, active_sub, new_id, new_sub, step, succeed

NEW = Money(14900, "SEK")
DAY = timedelta(days=1)

anchors = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(tzinfo=T0.tzinfo, microsecond=0)
)


@settings(max_examples=300)
@given(
    anchor=anchors,
    cycles=st.integers(0, 30),
    interval=st.sampled_from([1, 12]),
    notice_offset=st.integers(-400, 400),
    effective_offset=st.integers(-400, 800),
    notice_days=st.integers(0, 120),
)
def test_the_first_new_price_renewal_is_the_earliest_with_full_notice(
    anchor: datetime, cycles: int, interval: int, notice_offset: int, effective_offset: int,
    notice_days: int,
) -> None:  # fmt: skip
    next_renewal = add_months(anchor, cycles * interval)
    noticed = next_renewal + timedelta(days=notice_offset)
    effective = next_renewal + timedelta(days=effective_offset)
    got = first_renewal_at_new_price(
        anchor, cycles, interval, effective_at=effective, noticed_at=noticed,
        notice_days=notice_days,
    )  # fmt: skip
    dates = []
    for renewal in renewal_dates(anchor, cycles, interval):
        dates.append(renewal)
        if renewal >= got:
            break
    assert dates[-1] == got, "it is one of the subscriber's own renewal dates"
    assert got >= effective and got - noticed >= timedelta(days=notice_days)
    for earlier in dates[:-1]:  # every renewal before it lacks the notice or precedes the date
        assert earlier < effective or earlier - noticed < timedelta(days=notice_days)


@given(notice_days=st.integers(0, 90), more=st.integers(0, 90))
def test_more_notice_never_moves_the_new_price_earlier(notice_days: int, more: int) -> None:
    def first(days: int) -> datetime:
        return first_renewal_at_new_price(
            T0, 1, 1, effective_at=T0, noticed_at=T0 + 3 * DAY, notice_days=days
        )

    assert first(notice_days + more) >= first(notice_days)


def notice(sub: Subscription, at: datetime, *, effective: datetime, days: int = 30,
           consent: bool = False, change_id: str = "individual_monthly:SE:v2",
           price: Money = NEW) -> PriceChangeNoticed:  # fmt: skip
    return PriceChangeNoticed(
        input_id=f"price:{change_id}", occurred_at=at, change_id=change_id, plan=sub.plan,
        new_price=price, effective_at=effective, notice_days=days, consent_required=consent,
    )  # fmt: skip


def renew(sub: Subscription) -> tuple[Subscription, Money | None]:
    """Fire the renewal at its due time; pay it; return the charged amount."""
    assert sub.next_charge_at is not None
    at = sub.next_charge_at
    out = step(sub, RenewalDue(input_id=new_id("due"), occurred_at=at))
    assert out.applied, out.reason
    if out.charge is None:
        return out.subscription, None
    paid = succeed(out.subscription, at + timedelta(minutes=1))
    assert paid.applied, paid.reason
    return paid.subscription, out.charge.amount


def test_a_renewal_closer_than_the_notice_keeps_the_old_price_and_the_next_one_moves() -> None:
    sub = active_sub()  # renews on T0 + 1 month
    assert sub.current_period_end is not None
    told = sub.current_period_end - 10 * DAY
    out = step(sub, notice(sub, told, effective=told))
    [event] = out.events
    validate_event(event)
    assert event.type is EventType.PRICE_CHANGE_SCHEDULED
    assert event.payload["old_amount"] == PRICE.amount and event.payload["amount"] == NEW.amount
    second = add_months(T0, 2)
    assert out.subscription.price_change and out.subscription.price_change.applies_from == second
    sub, charged = renew(out.subscription)
    assert charged == PRICE and sub.price == PRICE and sub.price_change is not None
    sub, charged = renew(sub)
    assert charged == NEW and sub.price == NEW and sub.price_change is None
    sub, charged = renew(sub)
    assert charged == NEW, "the new price stays"


@given(consented=st.booleans(), consent=st.booleans(), months_ahead=st.integers(1, 4))
def test_consent_decides_between_the_new_price_and_the_end_of_the_period(
    consented: bool, consent: bool, months_ahead: int
) -> None:
    sub = active_sub()
    effective = add_months(T0, months_ahead)
    sub = step(sub, notice(sub, T0 + DAY, effective=effective, consent=consent)).subscription
    if consented:
        given_ = step(sub, PriceConsentGiven(input_id=new_id("ok"), occurred_at=T0 + 2 * DAY))
        assert given_.applied == consent, given_.reason  # no consent to give where none is needed
        sub = given_.subscription
    while sub.state is State.ACTIVE and sub.price_change is not None:
        before, period_end = sub, sub.current_period_end
        sub, charged = renew(sub)
        if sub.state is State.EXPIRED:
            assert consent and not consented
            assert sub.ended_at == period_end and sub.churn_type is ChurnType.VOLUNTARY
            assert sub.cancel_reason == "price_increase" and charged is None
            assert before.billing_anchor >= before.price_change.applies_from  # type: ignore[union-attr]
        else:
            assert charged == (NEW if sub.price_change is None else PRICE)
    assert sub.state is (State.EXPIRED if consent and not consented else State.ACTIVE)


def test_the_end_without_consent_emits_the_churn_signal_once() -> None:
    sub = active_sub()
    sub = step(sub, notice(sub, T0, effective=T0 + 35 * DAY, consent=True)).subscription
    sub, _ = renew(sub)  # the first renewal is before the effective date: old price
    assert sub.state is State.ACTIVE
    out = step(sub, RenewalDue(input_id=new_id("due"), occurred_at=sub.next_charge_at))  # type: ignore[arg-type]
    assert out.charge is None and out.subscription.state is State.EXPIRED
    [expired] = [e for e in out.events if e.type is EventType.EXPIRED]
    assert expired.payload["cancel_reason"] == "price_increase"


def test_grandfathered_subscribers_are_refused_and_keep_their_price() -> None:
    sub = step(active_sub(), GrandfatherSet(input_id="g1", occurred_at=T0)).subscription
    assert sub.price_grandfathered and Subscription.from_dict(sub.to_dict()) == sub
    out = step(sub, notice(sub, T0, effective=T0))
    assert not out.applied and "grandfathered" in (out.reason or "")
    sub, charged = renew(sub)
    assert charged == PRICE


def test_grandfathering_withdraws_a_change_already_told() -> None:
    sub = active_sub()
    sub = step(sub, notice(sub, T0, effective=T0)).subscription
    sub = step(sub, GrandfatherSet(input_id="g1", occurred_at=T0 + DAY)).subscription
    assert sub.price_change is None
    lifted = step(sub, GrandfatherSet(input_id="g2", occurred_at=T0 + DAY, exempt=False))
    assert not lifted.subscription.price_grandfathered


def test_notices_are_refused_where_nothing_renews_or_the_plan_differs() -> None:
    pending = new_sub()
    assert not step(pending, notice(pending, T0, effective=T0)).applied
    sub = active_sub()
    other = notice(sub, T0, effective=T0, price=Money(1499, "EUR"))
    assert "EUR" in (step(sub, other).reason or "")
    same = step(sub, notice(sub, T0, effective=T0, price=PRICE))
    assert not same.applied and "already at" in (same.reason or "")


def test_a_newer_version_replaces_the_pending_one_and_a_repeat_changes_nothing() -> None:
    sub = active_sub()
    sub = step(sub, notice(sub, T0, effective=T0)).subscription
    again = PriceChangeNoticed(
        input_id="price:again", occurred_at=T0 + DAY, change_id="individual_monthly:SE:v2",
        plan=sub.plan, new_price=NEW, effective_at=T0, notice_days=30,
    )  # fmt: skip
    assert not step(sub, again).applied
    v3 = Money(15900, "SEK")
    newer = step(sub, notice(sub, T0 + DAY, effective=T0, change_id="v3", price=v3))
    assert newer.subscription.price_change.price == v3  # type: ignore[union-attr]


def test_a_scheduled_cancellation_wins_over_the_new_price() -> None:
    sub = active_sub()
    sub = step(sub, notice(sub, T0, effective=T0)).subscription
    sub = step(sub, CancelRequested(input_id="c", occurred_at=T0 + DAY)).subscription
    ended, charged = renew(sub)
    while ended.state is State.ACTIVE:
        ended, charged = renew(ended)
    assert ended.cancel_reason != "price_increase" and charged is None


def test_a_store_report_past_the_new_price_date_applies_it() -> None:
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    until = T0 + 30 * DAY
    report = ProviderStateReported(input_id="r1", occurred_at=T0, status=ProviderStatus.ACTIVE,
                                   until=until, period_start=T0)  # fmt: skip
    sub = step(sub, report).subscription
    told = PriceChangeNoticed(
        input_id="p1", occurred_at=T0 + DAY, change_id="apple:x", plan=sub.plan, new_price=NEW,
        effective_at=until, applies_from=until, consent_required=True,
    )  # fmt: skip
    sub = step(sub, told).subscription
    assert sub.price_change and sub.price_change.applies_from == until
    assert not step(sub, PriceConsentGiven(input_id="c", occurred_at=T0 + DAY)).applied
    renewed = ProviderStateReported(input_id="r2", occurred_at=until, status=ProviderStatus.ACTIVE,
                                    until=until + 30 * DAY, period_start=until)  # fmt: skip
    sub = step(sub, renewed).subscription
    assert sub.price == NEW and sub.price_change is None
