"""Provider-managed reports that would break the period: refused, never stored."""

from __future__ import annotations

from datetime import timedelta
from itertools import permutations

import pytest

from refrain.domain import (
    BillingMode,
    EventType,
    OutcomeKind,
    ProviderStateReported,
    ProviderStatus,
    State,
    Subscription,
    apply,
    check_invariants,
)
from refrain.domain.errors import InvalidInput

from .builders import PRICE, T0, new_id, new_sub, step

pytestmark = pytest.mark.unit

DAY = timedelta(days=1)


def _report(
    status: ProviderStatus, at_days: float, until_days: float | None, **kw: object
) -> ProviderStateReported:
    return ProviderStateReported(
        input_id=new_id("rtdn"),
        occurred_at=T0 + at_days * DAY,
        status=status,
        until=None if until_days is None else T0 + until_days * DAY,
        **kw,  # type: ignore[arg-type]
    )


def _renewed_at_same_instant() -> Subscription:
    """Active until day 1, then renewed until day 4 by a report with the same timestamp."""
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    sub = step(sub, _report(ProviderStatus.ACTIVE, 0, 1)).subscription
    out = step(sub, _report(ProviderStatus.ACTIVE, 0, 4, paid_amount=PRICE))
    assert EventType.RENEWED in out.event_types
    sub = out.subscription
    assert (sub.current_period_start, sub.current_period_end) == (T0 + DAY, T0 + 4 * DAY)
    return sub


def test_tied_report_for_the_previous_period_is_stale() -> None:
    # the falsifying example of the invariant property: a third report, same
    # instant and no provider sequence (a watermark tie), still says "until day 1"
    sub = _renewed_at_same_instant()
    out = step(sub, _report(ProviderStatus.ACTIVE, 0, 1))
    assert out.kind is OutcomeKind.STALE
    assert out.subscription is sub and out.events == ()
    assert "before the current period began" in (out.reason or "")


def test_newer_report_for_a_period_before_the_current_one_is_stale() -> None:
    sub = _renewed_at_same_instant()
    out = step(sub, _report(ProviderStatus.ACTIVE, 2, 0.5, cancel_at_period_end=True))
    assert out.kind is OutcomeKind.STALE and out.subscription is sub


def test_tied_report_shortening_the_current_period_still_applies() -> None:
    sub = _renewed_at_same_instant()
    out = step(sub, _report(ProviderStatus.ACTIVE, 0, 3))
    assert out.applied
    assert out.subscription.current_period_start == T0 + DAY
    assert out.subscription.current_period_end == T0 + 3 * DAY


def test_first_report_with_a_lapsed_period_is_illegal() -> None:
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    out = step(sub, _report(ProviderStatus.ACTIVE, 10, 5, paid_amount=PRICE))
    assert out.kind is OutcomeKind.ILLEGAL and out.subscription is sub
    assert "not after its start" in (out.reason or "")


def test_active_report_whose_period_ends_before_it_starts_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="period_start"):
        _report(ProviderStatus.ACTIVE, 0, 30, period_start=T0 + 30 * DAY)
    # for other statuses ``until`` is a grace / hold / resume time, not the period end
    assert _report(ProviderStatus.IN_GRACE, 0, 3, period_start=T0 + 5 * DAY).until == T0 + 3 * DAY


def test_trial_conversion_starts_the_paid_period_at_trial_end() -> None:
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    sub = step(sub, _report(ProviderStatus.ACTIVE, 0, 7, in_trial=True)).subscription
    assert sub.state is State.TRIALING
    out = step(sub, _report(ProviderStatus.ACTIVE, 7, 37, paid_amount=PRICE, charge_id="GPA.2"))
    assert out.event_types == [EventType.ACTIVATED, EventType.INVOICE_PAID]
    for event in out.events:
        assert event.payload["period_start"] == (T0 + 7 * DAY).isoformat()
    assert out.subscription.current_period_start == T0 + 7 * DAY
    assert out.subscription.renewal_count == 0  # a conversion, not a renewal


def test_early_trial_conversion_keeps_a_valid_period() -> None:
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    sub = step(sub, _report(ProviderStatus.ACTIVE, 0, 90, in_trial=True)).subscription
    out = step(sub, _report(ProviderStatus.ACTIVE, 10, 40, paid_amount=PRICE))
    assert out.applied and out.subscription.state is State.ACTIVE
    assert out.subscription.current_period_end == T0 + 40 * DAY


def test_a_second_pause_starts_its_own_clock() -> None:
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    sub = step(sub, _report(ProviderStatus.ACTIVE, 0, 30)).subscription
    sub = step(sub, _report(ProviderStatus.PAUSED, 5, 20)).subscription
    assert sub.paused_at == T0 + 5 * DAY
    sub = step(sub, _report(ProviderStatus.IN_GRACE, 30, 33)).subscription
    assert sub.paused_at is None and sub.resume_at is None
    sub = step(sub, _report(ProviderStatus.PAUSED, 40, None)).subscription
    assert sub.paused_at == T0 + 40 * DAY and sub.resume_at is None
    assert check_invariants(sub) == []


# paid invoices in any order: a receipt is owed once per provider invoice ---------------

MONTH = 30  # days, the test's period length


def _billing_reports() -> dict[str, ProviderStateReported]:
    """Stripe Billing's reports for two periods: created, two invoice.paid, then a
    customer.subscription.updated in period 2 that asks to cancel at its end."""
    return {
        "created": _report(ProviderStatus.ACTIVE, 0, MONTH, period_start=T0),
        "paid_1": _report(
            ProviderStatus.ACTIVE, 0.001, MONTH, period_start=T0, paid_amount=PRICE,
            charge_id="in_1",
        ),
        "paid_2": _report(
            ProviderStatus.ACTIVE, MONTH, 2 * MONTH, period_start=T0 + MONTH * DAY,
            paid_amount=PRICE, charge_id="in_2",
        ),
        "updated": _report(
            ProviderStatus.ACTIVE, MONTH + 3, 2 * MONTH, period_start=T0 + MONTH * DAY,
            cancel_at_period_end=True,
        ),
    }  # fmt: skip


@pytest.mark.parametrize("order", list(permutations(("created", "paid_1", "paid_2", "updated"))))
def test_every_paid_invoice_is_announced_once_whatever_the_order(order: tuple[str, ...]) -> None:
    reports = _billing_reports()
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    now = T0 + 3 * MONTH * DAY
    events: list[EventType] = []
    paid: list[str | None] = []
    # An invoice names no plan, so it cannot create the mirror: the webhook answers 422
    # and Stripe retries it after the subscription's own report (as the storm does).
    first = next(name for name in order if name in ("created", "updated"))
    for name in (first, *(n for n in order if n != first)):
        out = apply(sub, reports[name], now)
        assert check_invariants(out.subscription) == []
        events += out.event_types
        paid += [e.payload["charge_id"] for e in out.events if e.type is EventType.INVOICE_PAID]
        sub = out.subscription

    assert sorted(paid, key=str) == ["in_1", "in_2"]  # both receipts, once each
    assert events.count(EventType.CANCEL_REQUESTED) == 1
    assert sub.state is State.ACTIVE and sub.cancel_at_period_end
    assert sub.current_period_end == T0 + 2 * MONTH * DAY
    for report in reports.values():  # every report redelivered: nothing more happens
        again = apply(sub, report, now)
        assert again.kind in (OutcomeKind.DUPLICATE, OutcomeKind.STALE)
        assert again.subscription is sub and again.events == ()


def test_a_late_paid_invoice_announces_the_payment_and_leaves_the_state() -> None:
    reports = _billing_reports()
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    now = T0 + 3 * MONTH * DAY
    for name in ("created", "paid_1", "updated"):
        sub = apply(sub, reports[name], now).subscription
    out = apply(sub, reports["paid_2"], now)  # older than "updated": stale for the state

    assert out.kind is OutcomeKind.APPLIED and out.event_types == [EventType.INVOICE_PAID]
    [invoice] = out.events
    assert invoice.payload["billing_reason"] == "subscription_cycle"
    assert invoice.payload["period_start"] == (T0 + MONTH * DAY).isoformat()
    unchanged = ("state", "current_period_end", "cancel_at_period_end", "watermarks")
    assert all(getattr(out.subscription, f) == getattr(sub, f) for f in unchanged)
    assert out.subscription.paid_charge_ids == ("in_1", "in_2")
