"""Active merchant-managed subscriptions for simulations, the bench and the demo.

What a paid checkout leaves behind (see the domain's first-period transition),
built directly so thousands can be seeded with batched writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from refrain.domain.money import Money
from refrain.domain.subscription import (
    BillingMode,
    State,
    Subscription,
    add_months,
    evolve,
)
from refrain.renewals import sandbox

DEMO_PRICE = Money(11900, "SEK")


def active_subscription(
    subscription_id: str,
    *,
    payment_method_ref: str,
    period_start: datetime,
    price: Money = DEMO_PRICE,
    provider: str = "stripe",
) -> Subscription:
    sub = Subscription.new(
        subscription_id=subscription_id,
        account_id=f"acct_{subscription_id}",
        provider=provider,
        billing_mode=BillingMode.MERCHANT_MANAGED,
        plan="individual_monthly",
        plan_rank=20,
        interval_months=1,
        market="SE",
        price=price,
        created_at=period_start,
        payment_method_ref=payment_method_ref,
    )
    end = add_months(period_start, 1)
    return evolve(
        sub,
        {
            "state": State.ACTIVE,
            "started_at": period_start,
            "current_period_start": period_start,
            "current_period_end": end,
            "paid_through": end,
            "cycle_anchor": period_start,
            "cycles_since_anchor": 1,
            "next_charge_at": end,
            "version": 1,
        },
    )


MIX: Sequence[tuple[str, int]] = (
    (sandbox.OK, 60),
    (sandbox.INSUFFICIENT_FUNDS, 10),
    (sandbox.STOLEN, 8),
    (sandbox.TIMEOUT, 7),
    (sandbox.RECOVER_AFTER_2, 15),
)
"""Payment method mix in percent (sums to 100)."""


def mixed_population(
    n: int, start: datetime, *, prefix: str = "sim", spread: timedelta = timedelta(days=28)
) -> list[Subscription]:
    """``n`` subscriptions, payment methods in ``MIX`` proportions, starts spread over ``spread``.

    Deterministic: subscription i gets the method at position i mod 100 of the mix, and
    starts at ``start - spread + i * spread / n`` (so renewals fall due across a month).
    """
    slots = [pm for pm, share in MIX for _ in range(share)]
    step = spread / max(n, 1)
    return [
        active_subscription(
            f"{prefix}_{i:06d}",
            payment_method_ref=slots[i % len(slots)],
            period_start=start - spread + step * i,
        )
        for i in range(n)
    ]
