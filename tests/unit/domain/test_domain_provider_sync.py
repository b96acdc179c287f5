"""Provider-managed reports that would break the period: refused, never stored."""

from __future__ import annotations

from datetime import timedelta

import pytest

from refrain.domain import (
    BillingMode,
    EventType,
    OutcomeKind,
    ProviderStateReported,
    ProviderStatus,
    State,
    Subscription,
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
