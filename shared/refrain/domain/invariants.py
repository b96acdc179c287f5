"""What a valid subscription looks like, as an executable checklist.

Used by the property tests on every generated state and cheap enough for an
adapter to run before it writes an aggregate to Firestore.
"""

from __future__ import annotations

from refrain.domain.subscription import (
    FIELD_NAMES,
    MAX_PAID_CHARGES,
    MAX_RECENT_INPUTS,
    BillingMode,
    State,
    Subscription,
)

__all__ = ["assert_invariants", "check_invariants"]


def check_invariants(sub: Subscription) -> list[str]:  # noqa: PLR0915
    """Every rule ``sub`` breaks (empty when valid)."""
    bad: list[str] = []
    s = sub.state
    merchant = sub.billing_mode is BillingMode.MERCHANT_MANAGED

    def need(cond: bool, message: str) -> None:
        if not cond:
            bad.append(f"{s}: {message}")

    stray = sub.__dict__.keys() - FIELD_NAMES
    need(not stray, f"attributes that are not fields: {sorted(stray)}")
    need(sub.currency == sub.price.currency, "currency must match the price")
    need(sub.attempt >= 0 and sub.failed_attempts >= 0, "counters must not be negative")
    need(sub.renewal_count >= 0 and sub.version >= 0 and sub.sequence >= 0, "counters >= 0")
    need(len(sub.recent_input_ids) <= MAX_RECENT_INPUTS, "dedupe window is bounded")
    need(len(set(sub.recent_input_ids)) == len(sub.recent_input_ids), "dedupe ids unique")
    need(len(sub.paid_charge_ids) <= MAX_PAID_CHARGES, "paid invoice window is bounded")
    need(len(set(sub.paid_charge_ids)) == len(sub.paid_charge_ids), "paid invoices unique")
    for name in ("current_period_start", "current_period_end", "next_charge_at", "paid_through"):
        value = getattr(sub, name)
        need(value is None or value.utcoffset() is not None, f"{name} must be aware")
    start, end = sub.current_period_start, sub.current_period_end
    if start is not None or end is not None:
        need(start is not None and end is not None and start < end, "period start < end")
    if not merchant:
        need(sub.next_charge_at is None, "provider-managed: we never schedule charges")
        need(not sub.charge_pending and sub.attempt == 0, "provider-managed: no charge attempts")
    if sub.cancel_at_period_end:
        need(s in (State.ACTIVE, State.TRIALING), "cancel_at_period_end only when live")
    if sub.pending_plan is not None:
        # a pause keeps it: it takes effect at the first renewal after the resume
        need(
            s in (State.ACTIVE, State.TRIALING, State.PAUSED),
            "pending downgrade only on a live or paused subscription",
        )
        need(sub.pending_plan.plan_rank < sub.plan_rank, "pending plan must be a downgrade")
    if sub.charge_pending:
        need(merchant and sub.next_charge_at is not None, "charge in flight needs a lease")
    if sub.upgrade is not None:
        up = sub.upgrade
        need(merchant and s is State.ACTIVE, "an upgrade waits for its charge only when active")
        need(not sub.charge_pending, "an upgrade charge and a renewal charge never overlap")
        need(up.plan_rank > sub.plan_rank and up.amount.amount > 0, "upgrade: higher, billed")
        need(up.amount.currency == sub.currency == up.price.currency, "upgrade in sub currency")
    if sub.retry_blocked:
        need(sub.next_charge_at is None and not sub.charge_pending, "hard decline: no auto retry")

    if s is State.PENDING:
        need(end is None and sub.paid_through is None, "pending has no period")
        need(sub.renewal_count == 0 and sub.started_at is None, "pending never started")
        need(sub.next_charge_at is None, "pending has nothing to charge")
    elif s is State.TRIALING:
        need(sub.trial_end is not None and end == sub.trial_end, "trial period ends at trial_end")
        need(sub.paid_through is None, "a trial is unpaid")
        if merchant:
            need(sub.next_charge_at is not None, "trial converts with a scheduled charge")
    elif s is State.ACTIVE:
        need(end is not None, "active needs a current period")
        need(
            sub.paid_through is not None and end is not None and sub.paid_through >= end,
            "active without a paid current period",
        )
        need(sub.grace_until is None and sub.hold_until is None, "active has no dunning clocks")
        if merchant:
            need(sub.next_charge_at is not None, "active merchant-managed needs a next charge")
            need(sub.failed_attempts == 0, "active has no outstanding failures")
    elif s is State.PAST_DUE:
        need(sub.grace_until is not None, "past_due without grace_until")
        need(end is not None, "past_due needs the period that failed to renew")
        if merchant:
            need(sub.failed_attempts >= 1, "past_due needs a failed attempt")
            need(sub.hold_until is not None, "merchant past_due knows when the hold ends")
    elif s is State.ON_HOLD:
        need(sub.hold_until is not None, "on_hold without hold_until")
        if merchant:
            need(sub.failed_attempts >= 1, "on_hold needs a failed attempt")
    elif s is State.PAUSED:
        need(sub.paused_at is not None, "paused without paused_at")
        need(sub.next_charge_at is None and not sub.charge_pending, "paused charges nothing")
    elif s is State.EXPIRED:
        need(sub.next_charge_at is None, "expired with a next_charge_at")
        need(not sub.charge_pending, "expired with a charge in flight")
        need(sub.ended_at is not None and sub.churn_type is not None, "expired needs end + churn")
        need(sub.grace_until is None and sub.hold_until is None, "expired has no dunning clocks")
    if s is not State.EXPIRED:
        need(sub.ended_at is None and sub.churn_type is None, "only expired has ended")
    return bad


def assert_invariants(sub: Subscription) -> None:
    problems = check_invariants(sub)
    if problems:
        raise AssertionError("; ".join(problems))
