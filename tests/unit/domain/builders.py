"""Small builders shared by the state-machine tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import count

from refrain.domain import (
    DEFAULT_POLICY,
    BillingMode,
    CheckoutCompleted,
    DunningPolicy,
    Input,
    Money,
    Outcome,
    PaymentFailed,
    PaymentSucceeded,
    Subscription,
    apply,
    check_invariants,
    classify_stripe,
    due_timers,
)
from refrain.domain.clock import utc

T0 = utc(2025, 1, 15, 9)
SEK = "SEK"
PRICE = Money(13900, SEK)
_ids = count(1)


def new_id(prefix: str = "in") -> str:
    return f"{prefix}_{next(_ids)}"


def new_sub(
    mode: BillingMode = BillingMode.MERCHANT_MANAGED,
    *,
    created_at: datetime = T0,
    interval_months: int = 1,
    plan: str = "individual_monthly",
    plan_rank: int = 20,
    price: Money = PRICE,
) -> Subscription:
    return Subscription.new(
        subscription_id=new_id("sub"),
        account_id="acct_opaque_1",
        provider="stripe" if mode is BillingMode.MERCHANT_MANAGED else "google_play",
        billing_mode=mode,
        plan=plan,
        plan_rank=plan_rank,
        interval_months=interval_months,
        market="SE",
        price=price,
        created_at=created_at,
    )


def step(sub: Subscription, inp: Input, now: datetime | None = None, **kw: object) -> Outcome:
    """Apply and check invariants on the result, whatever the outcome."""
    outcome = apply(sub, inp, now or inp.occurred_at, **kw)  # type: ignore[arg-type]
    problems = check_invariants(outcome.subscription)
    assert not problems, problems
    return outcome


def active_sub(at: datetime = T0, **kw: object) -> Subscription:
    sub = new_sub(created_at=at, **kw)  # type: ignore[arg-type]
    out = step(
        sub,
        CheckoutCompleted(
            input_id=new_id(),
            occurred_at=at,
            paid=True,
            amount=sub.price,
            charge_id="ch_first",
            payment_method_ref="pm_1",
        ),
    )
    assert out.applied
    return out.subscription


def succeed(sub: Subscription, at: datetime) -> Outcome:
    return step(
        sub,
        PaymentSucceeded(
            input_id=new_id(),
            occurred_at=at,
            charge_id=new_id("ch"),
            amount=sub.price,
            charge_period=sub.billing_anchor,
            attempt=sub.attempt,
        ),
    )


def fail(sub: Subscription, at: datetime, code: str = "insufficient_funds") -> Outcome:
    return step(
        sub,
        PaymentFailed(
            input_id=new_id(),
            occurred_at=at,
            charge_id=new_id("ch"),
            amount=sub.price,
            decline=classify_stripe("card_declined", code),
            charge_period=sub.billing_anchor,
            attempt=sub.attempt,
        ),
    )


def run_timers(
    sub: Subscription,
    at: datetime,
    on_charge: Callable[[Subscription, datetime], Outcome] | None = None,
    policy: DunningPolicy = DEFAULT_POLICY,
) -> tuple[Subscription, list[Outcome]]:
    """Fire every timer due at ``at``; answer charge requests with ``on_charge``."""
    outcomes: list[Outcome] = []
    for _ in range(10):
        due = due_timers(sub, at)
        if not due:
            break
        out = step(sub, due[0], at, policy=policy)
        outcomes.append(out)
        sub = out.subscription
        if out.charge is not None and on_charge is not None:
            result = on_charge(sub, at)
            outcomes.append(result)
            sub = result.subscription
    return sub, outcomes
