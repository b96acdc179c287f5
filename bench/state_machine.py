"""Microseconds per state-machine transition over a realistic input mix.

Run: .venv/bin/python bench/state_machine.py [--n 1000000]

The mix mirrors a month of production traffic per subscription: renewal
ticks and their charge outcomes dominate (about 1 in 6 renewals declines,
most of those recover on a retry), with customer actions, duplicate
webhook deliveries and late (stale) notifications sprinkled in. Every
transition goes through the public ``apply`` and builds real DomainEvent
envelopes. Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from refrain.domain import (
    BillingMode,
    CancelRequested,
    CancelReverted,
    CheckoutCompleted,
    Input,
    Money,
    PaymentFailed,
    PaymentMethodUpdated,
    PaymentSucceeded,
    ProviderStateReported,
    ProviderStatus,
    Subscription,
    apply,
    classify_stripe,
    due_timers,
    next_deadline,
)

PRICE = Money(13900, "SEK")
T0 = datetime(2025, 1, 15, 9, tzinfo=UTC)
SOFT = classify_stripe("card_declined", "insufficient_funds")


def fresh(i: int, mode: BillingMode) -> Subscription:
    return Subscription.new(
        subscription_id=f"sub_{i}",
        account_id=f"acct_{i}",
        provider="stripe",
        billing_mode=mode,
        plan="individual_monthly",
        plan_rank=20,
        interval_months=1,
        market="SE",
        price=PRICE,
        created_at=T0,
    )


def run(n: int) -> None:
    kinds: Counter[str] = Counter()
    events = 0
    elapsed = 0.0
    done = 0
    i = 0
    perf = time.perf_counter
    while done < n:
        i += 1
        provider = i % 4 == 0  # a quarter of subscriptions are app-store / Stripe Billing
        sub = fresh(i, BillingMode.PROVIDER_MANAGED if provider else BillingMode.MERCHANT_MANAGED)
        now = T0
        last: Input | None = None
        for k in range(40):
            if done >= n:
                break
            inp: Input
            if provider:
                now = now + timedelta(days=30)
                if k % 7 == 6:
                    status, until = ProviderStatus.IN_GRACE, now + timedelta(days=3)
                else:
                    status, until = ProviderStatus.ACTIVE, now + timedelta(days=30)
                inp = ProviderStateReported(
                    input_id=f"p{i}.{k}",
                    occurred_at=now,
                    status=status,
                    until=until,
                    paid_amount=PRICE if status is ProviderStatus.ACTIVE else None,
                )
                if k % 11 == 10:  # a late, older report
                    inp = ProviderStateReported(
                        input_id=f"p{i}.{k}.old",
                        occurred_at=now - timedelta(days=45),
                        status=ProviderStatus.IN_GRACE,
                        until=now,
                    )
            elif k == 0:
                inp = CheckoutCompleted(
                    input_id=f"c{i}",
                    occurred_at=now,
                    paid=True,
                    amount=PRICE,
                    payment_method_ref="pm",
                )
            elif sub.charge_pending:
                if (i + k) % 6 == 0:
                    inp = PaymentFailed(
                        input_id=f"f{i}.{k}",
                        occurred_at=now,
                        charge_id="ch",
                        amount=PRICE,
                        decline=SOFT,
                        attempt=sub.attempt,
                    )
                else:
                    inp = PaymentSucceeded(
                        input_id=f"s{i}.{k}",
                        occurred_at=now,
                        charge_id="ch",
                        amount=PRICE,
                        attempt=sub.attempt,
                    )
            elif k % 13 == 5:
                inp = CancelRequested(input_id=f"x{i}.{k}", occurred_at=now, reason="price")
            elif k % 13 == 6:
                inp = CancelReverted(input_id=f"r{i}.{k}", occurred_at=now)
            elif k % 17 == 8:
                inp = PaymentMethodUpdated(
                    input_id=f"m{i}.{k}", occurred_at=now, payment_method_ref=f"pm{k}"
                )
            elif k % 9 == 4 and last is not None:
                inp = last  # webhook redelivery
            else:
                deadline = next_deadline(sub)
                if deadline is None:
                    break
                now = max(now, deadline)
                due = due_timers(sub, now)
                if not due:
                    break
                inp = due[0]
            start = perf()
            out = apply(sub, inp, now)
            elapsed += perf() - start
            done += 1
            kinds[f"{type(inp).__name__}:{out.kind.value}"] += 1
            events += len(out.events)
            sub = out.subscription
            last = inp

    per = elapsed / done * 1e6
    print(f"transitions:        {done:,}")
    print(f"subscriptions:      {i:,}")
    print(f"domain events:      {events:,}")
    print(f"time in apply():    {elapsed:.2f} s")
    print(f"per transition:     {per:.2f} µs  (goal <= 20 µs)")
    print(f"throughput:         {done / elapsed:,.0f} transitions/s on one core")
    print("mix (input:outcome):")
    for name, count in kinds.most_common():
        print(f"  {name:42s} {count:>9,}  {100 * count / done:5.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of transitions")
    run(parser.parse_args().n)


if __name__ == "__main__":
    main()
