"""State machine scenarios: lifecycle, cancellation, plan changes, pause, ordering."""

from __future__ import annotations

import ast
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from refrain.domain import (
    BillingMode,
    CancelRequested,
    CancelReverted,
    ChargebackOpened,
    CheckoutCompleted,
    ChurnType,
    EventType,
    GracePeriodOver,
    Money,
    OutcomeKind,
    PauseRequested,
    PaymentFailed,
    PaymentMethodUpdated,
    PaymentSucceeded,
    PlanChangeRequested,
    ProviderStateReported,
    ProviderStatus,
    RefundIssued,
    ResumeRequested,
    State,
    Subscription,
    apply,
    check_invariants,
    classify_stripe,
)
from refrain.domain.errors import NaiveDatetime
from refrain.domain.subscription import add_months, evolve, evolve_unchecked

from .builders import PRICE, T0, active_sub, fail, new_id, new_sub, run_timers, step, succeed

pytestmark = pytest.mark.unit
DAY = timedelta(days=1)


def test_paid_checkout_activates_with_receipt_data() -> None:
    sub = new_sub()
    out = step(
        sub,
        CheckoutCompleted(
            input_id="co",
            occurred_at=T0,
            paid=True,
            amount=PRICE,
            charge_id="ch_1",
            payment_method_ref="pm",
        ),
    )
    assert out.kind is OutcomeKind.APPLIED
    assert out.event_types == [EventType.ACTIVATED, EventType.INVOICE_PAID]
    paid = out.events[1].payload
    assert (paid["amount"], paid["currency"], paid["plan"], paid["market"]) == (
        13900,
        "SEK",
        "individual_monthly",
        "SE",
    )
    assert paid["period_start"] == T0.isoformat()
    assert out.subscription.next_charge_at == add_months(T0, 1)
    assert [e.sequence for e in out.events] == [1, 2] and out.subscription.sequence == 2


def test_trial_then_conversion() -> None:
    sub = new_sub()
    out = step(
        sub,
        CheckoutCompleted(input_id="co", occurred_at=T0, trial_days=30, payment_method_ref="pm"),
    )
    sub = out.subscription
    assert sub.state is State.TRIALING and sub.trial_end == T0 + 30 * DAY
    assert out.event_types == [EventType.TRIAL_STARTED]
    sub, outs = run_timers(sub, T0 + 30 * DAY, succeed)
    assert sub.state is State.ACTIVE and sub.current_period_start == T0 + 30 * DAY
    activated = next(e for o in outs for e in o.events if e.type is EventType.ACTIVATED)
    assert activated.payload["from_trial"] is True
    assert sub.renewal_count == 0


def test_cancel_at_period_end_then_voluntary_expiry() -> None:
    sub = active_sub()
    out = step(sub, CancelRequested(input_id="c1", occurred_at=T0 + DAY, reason="too_expensive"))
    sub = out.subscription
    assert sub.cancel_at_period_end and sub.has_access
    assert out.events[0].payload["reason"] == "too_expensive"
    again = step(sub, CancelRequested(input_id="c2", occurred_at=T0 + 2 * DAY))
    assert again.kind is OutcomeKind.ILLEGAL and again.subscription is sub
    end = sub.current_period_end
    assert end is not None
    sub, outs = run_timers(sub, end)
    assert sub.state is State.EXPIRED and sub.churn_type is ChurnType.VOLUNTARY
    expired = outs[0].events[-1]
    assert expired.type is EventType.EXPIRED
    assert expired.payload["tenure_days"] == (end - T0).days
    assert expired.payload["cancel_reason"] == "too_expensive"
    assert outs[0].charge is None  # never charged


def test_cancel_revert_keeps_renewing() -> None:
    sub = active_sub()
    sub = step(sub, CancelRequested(input_id="c1", occurred_at=T0 + DAY)).subscription
    out = step(sub, CancelReverted(input_id="c2", occurred_at=T0 + 2 * DAY))
    assert out.event_types == [EventType.CANCEL_REVERTED]
    assert not out.subscription.cancel_at_period_end
    bad = step(out.subscription, CancelReverted(input_id="c3", occurred_at=T0 + 3 * DAY))
    assert bad.kind is OutcomeKind.ILLEGAL


def _change(
    sub: Subscription,
    plan: str,
    rank: int,
    price: int,
    months: int = 1,
    at: datetime | None = None,
) -> PlanChangeRequested:
    return PlanChangeRequested(
        input_id=new_id(),
        occurred_at=at or T0 + 14 * DAY,
        new_plan=plan,
        new_plan_rank=rank,
        new_interval_months=months,
        new_price=Money(price, "SEK"),
    )


def _upgrade_answer(
    sub: Subscription, at: datetime, *, paid: bool
) -> PaymentSucceeded | PaymentFailed:
    """The worker's record of the upgrade's charge (same charge id, the prorated amount)."""
    assert sub.upgrade is not None
    charge = dict(input_id=new_id(), occurred_at=at, charge_id=sub.upgrade.charge_id,
                  amount=sub.upgrade.amount, attempt=0)  # fmt: skip
    if paid:
        return PaymentSucceeded(**charge)  # type: ignore[arg-type]
    return PaymentFailed(**charge, decline=classify_stripe("card_declined", "insufficient_funds"))  # type: ignore[arg-type]


def test_an_upgrade_is_billed_before_it_applies() -> None:
    sub = active_sub()
    assert sub.current_period_end is not None
    out = step(sub, _change(sub, "family_monthly", 40, 23900))
    asked = out.subscription
    # nothing changes yet but the pending upgrade; the prorated charge is requested
    assert asked.plan == "individual_monthly" and asked.price == sub.price
    assert asked.upgrade is not None and out.events == ()
    total = int((sub.current_period_end - T0).total_seconds())
    left = int((sub.current_period_end - (T0 + 14 * DAY)).total_seconds())
    exact = Fraction((23900 - 13900) * left, total)
    assert out.charge is not None and out.charge.purpose == "proration"
    assert abs(out.charge.amount.amount - exact) <= Fraction(1, 2)
    assert out.charge.idempotency_key == asked.upgrade.charge_id
    # a second change, a pause or a renewal inside the lease waits for the charge
    assert step(asked, _change(asked, "duo_monthly", 30, 17900)).kind is OutcomeKind.ILLEGAL
    paused = step(asked, PauseRequested(input_id=new_id(), occurred_at=T0 + 15 * DAY))
    assert paused.kind is OutcomeKind.ILLEGAL
    paid = step(asked, _upgrade_answer(asked, T0 + 14 * DAY + timedelta(seconds=5), paid=True))
    new = paid.subscription
    assert new.plan == "family_monthly" and new.price == Money(23900, "SEK")
    assert new.upgrade is None and new.current_period_end == sub.current_period_end
    assert paid.event_types == [EventType.PLAN_CHANGED, EventType.INVOICE_PAID]
    changed, invoice = paid.events
    assert changed.payload["proration_amount"] == out.charge.amount.amount
    assert invoice.payload["amount"] == out.charge.amount.amount
    assert invoice.payload["billing_reason"] == "subscription_update"
    assert invoice.payload["charge_id"] == out.charge.idempotency_key
    # the same charge reported again (the provider's own webhook) changes nothing
    again = step(new, _upgrade_answer(asked, T0 + 15 * DAY, paid=True))
    assert again.kind is OutcomeKind.ILLEGAL and again.subscription.plan == "family_monthly"


def test_a_declined_upgrade_keeps_the_old_plan_and_tells_the_customer() -> None:
    sub = active_sub()
    asked = step(sub, _change(sub, "family_monthly", 40, 23900)).subscription
    out = step(asked, _upgrade_answer(asked, T0 + 14 * DAY, paid=False))
    kept = out.subscription
    assert kept.plan == sub.plan and kept.price == sub.price and kept.upgrade is None
    assert kept.state is State.ACTIVE and kept.failed_attempts == 0  # no dunning
    assert kept.next_charge_at == sub.next_charge_at
    assert out.event_types == [EventType.PLAN_CHANGE_DECLINED]
    assert out.events[0].payload["to_plan"] == "family_monthly"


def test_an_interval_upgrade_starts_a_new_period_when_paid() -> None:
    sub = active_sub()
    at = T0 + 10 * DAY
    asked = step(sub, _change(sub, "individual_yearly", 25, 139000, months=12, at=at))
    upgrade = asked.subscription.upgrade
    assert upgrade is not None and upgrade.period_start == at
    credit = Fraction(13900 * int((sub.current_period_end - at).total_seconds()),  # type: ignore[operator]
                      int((sub.current_period_end - T0).total_seconds()))  # type: ignore[operator]  # fmt: skip
    assert abs(upgrade.amount.amount - (139000 - credit)) <= Fraction(1, 2)
    paid = step(asked.subscription, _upgrade_answer(asked.subscription, at, paid=True)).subscription
    assert paid.interval_months == 12 and paid.current_period_start == at
    assert paid.current_period_end == add_months(at, 12) == paid.next_charge_at


def test_an_unanswered_upgrade_never_blocks_the_renewal() -> None:
    sub = active_sub()
    asked = step(sub, _change(sub, "family_monthly", 40, 23900)).subscription
    end = sub.current_period_end
    assert end is not None
    renewed, _ = run_timers(asked, end, succeed)
    assert renewed.plan == sub.plan and renewed.upgrade is None
    assert renewed.current_period_start == end


def test_a_trial_upgrade_applies_now_with_nothing_to_charge() -> None:
    trial = CheckoutCompleted(input_id="co_trial", occurred_at=T0, paid=False, trial_days=14)
    trialing = step(new_sub(), trial).subscription
    assert trialing.state is State.TRIALING
    out = step(trialing, _change(trialing, "family_monthly", 40, 23900, at=T0 + DAY))
    assert out.subscription.plan == "family_monthly" and out.charge is None
    assert out.subscription.upgrade is None and out.event_types == [EventType.PLAN_CHANGED]


def test_downgrade_waits_for_period_end() -> None:
    sub = active_sub()
    out = step(sub, _change(sub, "student_monthly", 10, 7500))
    sub = out.subscription
    assert sub.plan == "individual_monthly" and sub.pending_plan is not None
    assert out.events[0].payload["scheduled"] is True
    end = sub.current_period_end
    assert end is not None
    sub, outs = run_timers(sub, end, succeed)
    assert sub.plan == "student_monthly" and sub.price == Money(7500, "SEK")
    assert outs[0].charge is not None and outs[0].charge.amount == Money(7500, "SEK")
    assert sub.pending_plan is None and sub.state is State.ACTIVE


def test_same_plan_and_wrong_currency_are_illegal() -> None:
    sub = active_sub()
    assert step(sub, _change(sub, sub.plan, sub.plan_rank, 13900)).kind is OutcomeKind.ILLEGAL
    bad = PlanChangeRequested(
        input_id=new_id(),
        occurred_at=T0 + DAY,
        new_plan="duo_monthly",
        new_plan_rank=30,
        new_interval_months=1,
        new_price=Money(1699, "EUR"),
    )
    assert step(sub, bad).kind is OutcomeKind.ILLEGAL


def test_pause_and_resume_carry_unused_time() -> None:
    sub = active_sub()
    end = sub.current_period_end
    assert end is not None
    sub = step(sub, PauseRequested(input_id="p", occurred_at=T0 + 10 * DAY)).subscription
    assert sub.state is State.PAUSED and not sub.has_access and sub.next_charge_at is None
    out = step(sub, ResumeRequested(input_id="r", occurred_at=T0 + 40 * DAY))
    assert out.subscription.state is State.ACTIVE
    assert out.subscription.current_period_end == end + 30 * DAY


def test_downgrade_scheduled_before_a_pause_applies_after_resume() -> None:
    sub = active_sub()
    sub = step(sub, _change(sub, "student_monthly", 10, 7500)).subscription
    sub = step(sub, PauseRequested(input_id=new_id(), occurred_at=T0 + 15 * DAY)).subscription
    assert sub.state is State.PAUSED and sub.pending_plan is not None
    sub = step(sub, ResumeRequested(input_id=new_id(), occurred_at=T0 + 25 * DAY)).subscription
    assert sub.state is State.ACTIVE and sub.plan == "individual_monthly"
    assert sub.current_period_end is not None
    sub, outs = run_timers(sub, sub.current_period_end, succeed)
    assert outs[0].charge is not None and outs[0].charge.amount == Money(7500, "SEK")
    assert sub.plan == "student_monthly" and sub.pending_plan is None


def test_chargeback_revokes_access_and_refund_can() -> None:
    sub = active_sub()
    out = step(
        sub,
        ChargebackOpened(
            input_id="cb",
            occurred_at=T0 + DAY,
            charge_id="ch_first",
            amount=PRICE,
            reason_code="4853",
            evidence_due_at=T0 + 15 * DAY,
        ),
    )
    assert out.event_types == [EventType.CHARGE_DISPUTED, EventType.EXPIRED]
    assert out.events[0].payload["evidence_due_at"] == (T0 + 15 * DAY).isoformat()
    assert out.subscription.churn_type is ChurnType.REVOKED
    sub2 = active_sub()
    keep = step(
        sub2,
        RefundIssued(
            input_id="rf", occurred_at=T0 + DAY, charge_id="ch_first", amount=Money(500, "SEK")
        ),
    )
    assert keep.event_types == [EventType.CHARGE_REFUNDED]
    assert keep.subscription.state is State.ACTIVE


def test_a_card_saved_before_a_chargeback_is_recorded_in_either_order() -> None:
    """The final card does not depend on whether the card event or the chargeback came first."""
    card = PaymentMethodUpdated(
        input_id="card", occurred_at=T0 + timedelta(seconds=1), payment_method_ref="cus_1:pm_2"
    )
    chargeback = ChargebackOpened(
        input_id="cb", occurred_at=T0 + DAY, charge_id="ch_first", amount=PRICE, reason_code="4853"
    )
    in_order = step(step(active_sub(), card).subscription, chargeback).subscription
    late = step(active_sub(), chargeback).subscription
    late_card = step(late, card, now=T0 + 2 * DAY)
    assert late_card.event_types == [EventType.PAYMENT_METHOD_UPDATED]
    assert late_card.subscription.state is State.EXPIRED and late_card.charge is None
    assert late_card.subscription.payment_method_ref == in_order.payment_method_ref == "cus_1:pm_2"
    after_the_end = PaymentMethodUpdated(
        input_id="card2", occurred_at=T0 + 2 * DAY, payment_method_ref="cus_1:pm_3"
    )
    refused = step(late, after_the_end)
    assert refused.kind is OutcomeKind.ILLEGAL and refused.subscription == late


def test_duplicate_input_is_a_no_op() -> None:
    sub = active_sub()
    inp = CancelRequested(input_id="dup", occurred_at=T0 + DAY)
    once = step(sub, inp)
    twice = step(once.subscription, inp)
    assert twice.kind is OutcomeKind.DUPLICATE
    assert twice.subscription is once.subscription and twice.events == ()


def test_failure_older_than_a_success_is_stale() -> None:
    sub = active_sub()
    end = sub.current_period_end
    assert end is not None
    sub, _ = run_timers(sub, end)  # charge in flight
    late_failure = PaymentFailed(
        input_id="f_old",
        occurred_at=end + timedelta(minutes=1),
        charge_id="ch_x",
        amount=PRICE,
        decline=classify_stripe("card_declined", "do_not_honor"),
        attempt=sub.attempt,
    )
    sub = step(
        sub,
        PaymentSucceeded(
            input_id="s",
            occurred_at=end + timedelta(minutes=5),
            charge_id="ch_y",
            amount=PRICE,
            attempt=sub.attempt,
            charge_period=end,
        ),
    ).subscription
    out = step(sub, late_failure)
    assert out.kind is OutcomeKind.STALE and out.subscription is sub
    assert sub.state is State.ACTIVE


def test_double_success_for_one_period_is_refused_for_refund() -> None:
    sub = active_sub()
    end = sub.current_period_end
    assert end is not None
    sub, _ = run_timers(sub, end, succeed)
    again = step(
        sub,
        PaymentSucceeded(
            input_id="s2",
            occurred_at=end + DAY,
            charge_id="ch_dup",
            amount=PRICE,
            charge_period=end,
        ),
    )
    assert again.kind is OutcomeKind.ILLEGAL and "refund" in (again.reason or "")


def test_the_checkouts_own_payment_reported_again_is_a_duplicate_not_a_refund() -> None:
    """Stripe reports a checkout's PaymentIntent again in payment_intent.succeeded."""
    sub = active_sub()  # paid at checkout with charge ch_first
    again = step(
        sub,
        PaymentSucceeded(
            input_id="pi_evt", occurred_at=T0 + DAY, charge_id="ch_first", amount=PRICE
        ),
    )
    assert again.kind is OutcomeKind.DUPLICATE and not again.events
    other = step(
        sub,
        PaymentSucceeded(input_id="pi_other", occurred_at=T0 + DAY, charge_id="ch_x", amount=PRICE),
    )
    assert other.kind is OutcomeKind.ILLEGAL and "refund" in (other.reason or "")


def test_premature_timer_and_future_events_are_illegal() -> None:
    sub = active_sub()
    sub, _ = run_timers(sub, sub.current_period_end or T0, fail)
    early = step(sub, GracePeriodOver(input_id="g", occurred_at=T0 + 32 * DAY))
    assert early.kind is OutcomeKind.ILLEGAL and "grace period runs until" in (early.reason or "")
    future = apply(sub, CancelRequested(input_id="x", occurred_at=T0 + 400 * DAY), T0)
    assert future.kind is OutcomeKind.ILLEGAL


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(NaiveDatetime):
        CancelRequested(input_id="n", occurred_at=datetime(2025, 1, 1))
    with pytest.raises(NaiveDatetime):
        apply(active_sub(), CancelRequested(input_id="n", occurred_at=T0), datetime(2025, 1, 1))


def test_serialisation_round_trip() -> None:
    sub = active_sub()
    sub = step(sub, _change(sub, "student_monthly", 10, 7500)).subscription
    assert Subscription.from_dict(sub.to_dict()) == sub


def test_a_misspelt_change_is_caught() -> None:
    sub = active_sub()
    with pytest.raises(TypeError, match="statee"):
        evolve(sub, {"statee": State.EXPIRED})
    # the machine's unchecked path leaves it to the invariant checklist
    problems = check_invariants(evolve_unchecked(sub, {"statee": State.EXPIRED}))
    assert problems == ["active: attributes that are not fields: ['statee']"]


# provider-managed -----------------------------------------------------------


def _report(
    status: ProviderStatus, at_days: float, until_days: float | None, **kw: object
) -> ProviderStateReported:
    return ProviderStateReported(
        input_id=new_id("rtdn"),
        occurred_at=T0 + timedelta(days=at_days),
        status=status,
        until=None if until_days is None else T0 + timedelta(days=until_days),
        **kw,  # type: ignore[arg-type]
    )


def test_provider_managed_lifecycle_mirrors_reports() -> None:
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    out = step(sub, _report(ProviderStatus.ACTIVE, 0, 30, paid_amount=PRICE, charge_id="GPA.1"))
    assert out.event_types == [EventType.ACTIVATED, EventType.INVOICE_PAID]
    sub = out.subscription
    sub = step(sub, _report(ProviderStatus.IN_GRACE, 30, 33)).subscription
    assert sub.state is State.PAST_DUE and sub.grace_until == T0 + 33 * DAY
    sub = step(sub, _report(ProviderStatus.ON_HOLD, 33, 60)).subscription
    assert sub.state is State.ON_HOLD
    out = step(sub, _report(ProviderStatus.ACTIVE, 40, 70, paid_amount=PRICE))
    assert EventType.RECOVERED in out.event_types and EventType.RENEWED in out.event_types
    sub = out.subscription
    out = step(sub, _report(ProviderStatus.ACTIVE, 41, 70, cancel_at_period_end=True))
    assert out.event_types == [EventType.CANCEL_REQUESTED]
    out = step(out.subscription, _report(ProviderStatus.EXPIRED, 70, None))
    assert out.subscription.churn_type is ChurnType.VOLUNTARY


def test_provider_report_older_than_watermark_cannot_regress() -> None:
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    sub = step(sub, _report(ProviderStatus.ACTIVE, 0, 30)).subscription
    sub = step(sub, _report(ProviderStatus.ACTIVE, 30, 60)).subscription
    old = step(sub, _report(ProviderStatus.IN_GRACE, 29, 33))
    assert old.kind is OutcomeKind.STALE and old.subscription is sub


def test_merchant_inputs_are_refused_for_provider_managed() -> None:
    sub = new_sub(BillingMode.PROVIDER_MANAGED)
    sub = step(sub, _report(ProviderStatus.ACTIVE, 0, 30)).subscription
    out = step(sub, CancelRequested(input_id="c", occurred_at=T0 + DAY))
    assert out.kind is OutcomeKind.ILLEGAL and "provider" in (out.reason or "")


def test_domain_has_no_cloud_imports() -> None:
    root = Path(__file__).resolve().parents[3] / "shared" / "refrain" / "domain"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("google", "boto", "botocore", "firebase")), (
                    path.name,
                    name,
                )
