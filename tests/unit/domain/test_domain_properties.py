"""Hypothesis: random input sequences never break the aggregate's invariants."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from refrain.domain import (
    BillingMode,
    CancelRequested,
    CancelReverted,
    ChargebackOpened,
    CheckoutCompleted,
    ChurnType,
    GracePeriodOver,
    HoldOver,
    Input,
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
    RenewalDue,
    ResumeRequested,
    Subscription,
    apply,
    check_invariants,
    classify_stripe,
    due_timers,
    from_pubsub_message,
    next_deadline,
    to_pubsub_message,
)
from refrain.domain.events import EventType
from refrain.domain.machine import stale_reason

from .builders import PRICE, T0, new_sub

pytestmark = pytest.mark.unit

PLANS = [
    ("student_monthly", 10, 1, 7500),
    ("individual_monthly", 20, 1, 13900),
    ("individual_yearly", 25, 12, 139000),
    ("family_monthly", 40, 1, 23900),
]
DECLINES = ["insufficient_funds", "do_not_honor", "stolen_card", "expired_card", "try_again_later"]

# weighted: timers and charge outcomes dominate, terminal inputs are rare
MERCHANT_OPS = (
    ["tick"] * 8
    + ["succeed"] * 3
    + ["fail"] * 5
    + [
        "checkout_paid",
        "checkout_trial",
        "checkout_unpaid",
        "renewal",
        "grace_over",
        "hold_over",
        "cancel",
        "revert",
        "change",
        "change",
        "pause",
        "resume",
        "resume",
        "card",
        "card",
        "refund",
        "chargeback",
        "upgrade_answer",
        "upgrade_answer",
    ]
)
PROVIDER_OPS = ["active"] * 4 + [
    "grace",
    "grace",
    "hold",
    "hold",
    "paused",
    "trial",
    "cancel_flag",
    "cancel_flag",
    "expired",
    "revoked",
    "refund",
    "chargeback",
]

op_strategy = st.tuples(
    st.integers(min_value=0, max_value=200),  # op selector
    st.integers(min_value=-48, max_value=24 * 20),  # hours to move (negative: out of order)
    st.integers(min_value=0, max_value=10),  # variant
)


def _merchant_input(sub: Subscription, n: int, op: str, at: datetime, v: int) -> Input:
    iid = f"i{n}"
    anchor = sub.billing_anchor if v % 4 else sub.billing_anchor - timedelta(days=30)
    match op:
        case "checkout_paid":
            return CheckoutCompleted(input_id=iid, occurred_at=at, paid=True, amount=sub.price)
        case "checkout_trial":
            return CheckoutCompleted(input_id=iid, occurred_at=at, trial_days=1 + v)
        case "checkout_unpaid":
            return CheckoutCompleted(input_id=iid, occurred_at=at, payment_method_ref="pm")
        case "succeed":
            return PaymentSucceeded(
                input_id=iid,
                occurred_at=at,
                charge_id=f"ch{n}",
                amount=sub.price,
                charge_period=anchor,
                attempt=sub.attempt,
            )
        case "fail":
            return PaymentFailed(
                input_id=iid,
                occurred_at=at,
                charge_id=f"ch{n}",
                amount=sub.price,
                decline=classify_stripe(None, DECLINES[v % len(DECLINES)]),
                charge_period=anchor,
                attempt=sub.attempt - (v == 7),
            )
        case "upgrade_answer":  # the worker's record of a waiting upgrade's charge
            if sub.upgrade is None:
                return RenewalDue(input_id=iid, occurred_at=at)
            up = sub.upgrade
            if v % 3:
                return PaymentSucceeded(input_id=iid, occurred_at=at, charge_id=up.charge_id,
                                        amount=up.amount, attempt=0)  # fmt: skip
            decline = classify_stripe(None, DECLINES[v % len(DECLINES)])
            return PaymentFailed(input_id=iid, occurred_at=at, charge_id=up.charge_id,
                                 amount=up.amount, attempt=0, decline=decline)  # fmt: skip
        case "renewal":
            return RenewalDue(input_id=iid, occurred_at=at)
        case "grace_over":
            return GracePeriodOver(input_id=iid, occurred_at=at)
        case "hold_over":
            return HoldOver(input_id=iid, occurred_at=at)
        case "cancel":
            return CancelRequested(input_id=iid, occurred_at=at, reason="r")
        case "revert":
            return CancelReverted(input_id=iid, occurred_at=at)
        case "change":
            plan, rank, months, price = PLANS[v % len(PLANS)]
            return PlanChangeRequested(
                input_id=iid,
                occurred_at=at,
                new_plan=plan,
                new_plan_rank=rank,
                new_interval_months=months,
                new_price=Money(price, "SEK"),
            )
        case "pause":
            return PauseRequested(
                input_id=iid,
                occurred_at=at,
                resume_at=at + timedelta(days=v + 1) if v % 2 else None,
            )
        case "resume":
            return ResumeRequested(input_id=iid, occurred_at=at)
        case "card":
            return PaymentMethodUpdated(input_id=iid, occurred_at=at, payment_method_ref=f"pm{n}")
        case "refund":
            return RefundIssued(
                input_id=iid, occurred_at=at, charge_id="ch", amount=PRICE, revoke_access=v == 9
            )
        case "chargeback":
            return ChargebackOpened(input_id=iid, occurred_at=at, charge_id="ch", amount=PRICE)
    raise AssertionError(op)


def _provider_input(sub: Subscription, n: int, op: str, at: datetime, v: int) -> Input:
    iid = f"p{n}"
    until = at + timedelta(days=1 + v * 3)
    match op:
        case "active" | "trial" | "cancel_flag":
            return ProviderStateReported(
                input_id=iid,
                occurred_at=at,
                status=ProviderStatus.ACTIVE,
                until=until,
                in_trial=op == "trial",
                cancel_at_period_end=op == "cancel_flag",
                paid_amount=PRICE if v % 2 else None,
                charge_id=f"in_{iid}" if v % 2 else None,
                provider_sequence=v if v > 5 else None,
            )
        case "grace":
            return ProviderStateReported(
                input_id=iid, occurred_at=at, status=ProviderStatus.IN_GRACE, until=until
            )
        case "hold":
            return ProviderStateReported(
                input_id=iid, occurred_at=at, status=ProviderStatus.ON_HOLD, until=until
            )
        case "paused":
            return ProviderStateReported(input_id=iid, occurred_at=at, status=ProviderStatus.PAUSED)
        case "expired":
            return ProviderStateReported(
                input_id=iid,
                occurred_at=at,
                status=ProviderStatus.EXPIRED,
                churn_type=ChurnType.INVOLUNTARY if v % 2 else None,
            )
        case "revoked":
            return ProviderStateReported(
                input_id=iid, occurred_at=at, status=ProviderStatus.REVOKED
            )
        case "refund":
            return RefundIssued(input_id=iid, occurred_at=at, charge_id="c", amount=PRICE)
        case "chargeback":
            return ChargebackOpened(input_id=iid, occurred_at=at, charge_id="c", amount=PRICE)
    raise AssertionError(op)


_BOOKKEEPING = ("paid_charge_ids", "recent_input_ids", "version", "sequence")


def _state_view(sub: Subscription) -> dict[str, Any]:
    """The subscription minus the bookkeeping a recorded late payment may touch."""
    return {k: v for k, v in sub.to_dict().items() if k not in _BOOKKEEPING}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    provider_managed=st.booleans(),
    ops=st.lists(op_strategy, min_size=1, max_size=40),
)
# three "active" reports stamped the same instant: the third describes the period
# before the current one and once moved the period end back onto its start
@example(provider_managed=True, ops=[(0, 0, 0), (0, 0, 1), (0, 0, 0)])
# paid checkout, scheduled downgrade, pause: the downgrade must survive the pause
@example(provider_managed=False, ops=[(0, 0, 0), (24, 0, 0), (26, 0, 0)])
# paid checkout, an upgrade to family_monthly, its charge paid: billed, then applied
@example(provider_managed=False, ops=[(0, 0, 0), (24, 1, 3), (33, 1, 1)])
# the same upgrade declined: the plan stays
@example(provider_managed=False, ops=[(0, 0, 0), (24, 1, 3), (33, 1, 0)])
def test_random_sequences_keep_every_invariant(
    provider_managed: bool, ops: list[tuple[int, int, int]]
) -> None:
    mode = BillingMode.PROVIDER_MANAGED if provider_managed else BillingMode.MERCHANT_MANAGED
    sub = new_sub(mode)
    clock = T0
    applied_inputs: list[Input] = []
    paid: list[str] = []
    claimed: dict[str, int] = {}  # upgrade charges requested: key -> amount
    billed: set[str] = set()  # upgrade charges invoiced
    for n, (selector, hours, variant) in enumerate(ops):
        if hours >= 0:
            clock += timedelta(hours=hours)
        at = clock + timedelta(hours=min(hours, 0))  # negative: an out-of-order older event
        names = PROVIDER_OPS if provider_managed else MERCHANT_OPS
        op = names[selector % len(names)]
        if n == 0 and not provider_managed:
            op = ("checkout_paid", "checkout_trial", "checkout_unpaid")[variant % 3]
        if op == "tick":  # jump to the next deadline and fire it
            deadline = next_deadline(sub)
            if deadline is not None and deadline > clock:
                clock = deadline
            due = due_timers(sub, clock)
            if not due:
                continue
            inp: Input = due[0]
        elif provider_managed:
            inp = _provider_input(sub, n, op, at, variant)
        else:
            inp = _merchant_input(sub, n, op, at, variant)
        if variant == 10 and applied_inputs:  # redeliver an earlier input
            inp = applied_inputs[-1]

        was_stale = stale_reason(sub, inp) is not None
        out = apply(sub, inp, clock)
        new = out.subscription

        assert check_invariants(new) == [], (op, out.reason, new)
        if out.kind is not OutcomeKind.APPLIED:
            assert new is sub and out.events == ()  # refusals never touch state
        if out.kind is OutcomeKind.STALE:
            assert new is sub
        elif was_stale and inp.input_id not in sub.recent_input_ids:
            # a stale report carrying a payment records the payment and nothing else
            assert [e.type for e in out.events] == [EventType.INVOICE_PAID], op
            assert _state_view(new) == _state_view(sub)
        if out.applied and out.charge is not None and out.charge.purpose == "proration":
            claimed[out.charge.idempotency_key] = out.charge.amount.amount
        for event in out.events if out.applied else ():
            # money conservation for upgrades: an upgrade's invoice is exactly the charge it
            # claimed, once; a billed upgrade changes the plan only with that invoice
            if event.payload.get("billing_reason") == "subscription_update":
                key = event.payload["charge_id"]
                assert claimed.get(key) == event.payload["amount"] and key not in billed
                billed.add(key)
                hypothesis_event("an upgrade billed and applied")
            if (
                event.type is EventType.PLAN_CHANGED
                and (event.payload["proration_amount"] or 0) > 0
            ):
                reasons = [e.payload.get("billing_reason") for e in out.events]
                assert "subscription_update" in reasons, "an upgrade applied without its charge"
        up = sub.upgrade
        if up is not None and new.plan == up.plan != sub.plan:  # the waiting upgrade applied
            assert up.charge_id in billed, "the upgrade's plan only with its paid charge"
        if provider_managed:
            paid += [e.payload["charge_id"] for e in out.events if e.type is EventType.INVOICE_PAID]
            assert len(paid) == len(set(paid))  # one invoice.paid per provider invoice, ever
        if out.applied:
            # sequences are gap-free and every event survives the Pub/Sub round trip
            assert [e.sequence for e in out.events] == list(
                range(sub.sequence + 1, new.sequence + 1)
            )
            assert new.version == sub.version + 1
            for event in out.events:
                msg = to_pubsub_message(event)
                assert from_pubsub_message(msg.data, msg.attributes) == event
            applied_inputs.append(inp)
            # idempotence: the same input again changes nothing
            again = apply(new, inp, clock)
            assert again.kind is OutcomeKind.DUPLICATE and again.subscription is new
        sub = new
    assert Subscription.from_dict(sub.to_dict()) == sub


@settings(max_examples=100, deadline=None)
@given(older_by=st.integers(min_value=1, max_value=10_000), code=st.sampled_from(DECLINES))
def test_stale_failure_never_changes_state(older_by: int, code: str) -> None:
    sub = new_sub()
    sub = apply(
        sub, CheckoutCompleted(input_id="co", occurred_at=T0, paid=True, amount=PRICE), T0
    ).subscription
    end = sub.current_period_end
    assert end is not None
    sub = apply(sub, RenewalDue(input_id="rd", occurred_at=end), end).subscription
    paid_at = end + timedelta(hours=3)
    sub = apply(
        sub,
        PaymentSucceeded(input_id="ok", occurred_at=paid_at, charge_id="c", amount=PRICE),
        paid_at,
    ).subscription
    old = PaymentFailed(
        input_id="late",
        occurred_at=paid_at - timedelta(seconds=older_by),
        charge_id="c0",
        amount=PRICE,
        decline=classify_stripe(None, code),
    )
    out = apply(sub, old, paid_at + timedelta(days=1))
    assert out.kind is OutcomeKind.STALE and out.subscription is sub
