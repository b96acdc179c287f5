"""Tax on top (US, CA): checkout's tax kept, renewals and upgrades charge net + tax, exactly."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from refrain.domain import (
    CheckoutCompleted,
    EventType,
    Money,
    Outcome,
    PaymentSucceeded,
    PlanChangeRequested,
)
from refrain.domain.machine import due_timers
from refrain.domain.outcome import ChargeRequest
from refrain.domain.tax import tax_on_top, tax_within
from tests.unit.domain.builders import T0, new_id, new_sub, step

DAY = timedelta(days=1)
PRICE = Money(1199, "USD")
NYC_TAX = Money(106, "USD")  # 8.875 % of 11.99, as Stripe Tax computed it at checkout


def us_sub() -> Outcome:
    sub = new_sub(price=PRICE)
    checkout = CheckoutCompleted(
        input_id=new_id(), occurred_at=T0, paid=True, amount=PRICE + NYC_TAX, tax=NYC_TAX,
        charge_id="pi_us", payment_method_ref="pm_1",
    )  # fmt: skip
    return step(sub, checkout)


def test_the_checkout_s_tax_is_kept_and_invoiced_as_tax() -> None:
    out = us_sub()
    assert out.subscription.tax == NYC_TAX
    [paid] = [e for e in out.events if e.type is EventType.INVOICE_PAID]
    assert (paid.payload["amount"], paid.payload["tax"]) == (1305, 106)


def test_renewals_charge_the_price_with_the_same_tax_on_top() -> None:
    sub = us_sub().subscription
    assert sub.current_period_end is not None
    [timer] = due_timers(sub, sub.current_period_end)
    due = step(sub, timer)
    assert due.charge is not None and due.charge.amount == Money(1305, "USD")
    renewed = step(due.subscription, paid_for(due.charge, sub.current_period_end))
    [paid] = [e for e in renewed.events if e.type is EventType.INVOICE_PAID]
    assert (paid.payload["amount"], paid.payload["tax"]) == (1305, 106)


def test_an_upgrade_bills_its_proration_with_tax_and_the_new_price_carries_it() -> None:
    sub = us_sub().subscription
    change = PlanChangeRequested(
        input_id=new_id(), occurred_at=T0 + 14 * DAY, new_plan="family_monthly",
        new_plan_rank=40, new_interval_months=1, new_price=Money(1999, "USD"),
    )  # fmt: skip
    out = step(sub, change)
    assert out.charge is not None
    net = round((1999 - 1199) * 17 / 31)  # 17 of 31 days left in January
    assert out.charge.amount == Money(net, "USD") + tax_on_top(Money(net, "USD"), PRICE, NYC_TAX)
    paid = step(out.subscription, paid_for(out.charge, T0 + 14 * DAY))
    assert paid.subscription.price == Money(1999, "USD")
    assert paid.subscription.tax == Money(177, "USD")  # 1999 * 106 / 1199 = 176.7


def paid_for(charge: ChargeRequest, at: datetime) -> PaymentSucceeded:
    """The provider's success for exactly what was charged."""
    return PaymentSucceeded(
        input_id=new_id(), occurred_at=at, charge_id=charge.idempotency_key,
        amount=charge.amount, charge_period=charge.billing_anchor, attempt=charge.attempt,
    )  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    net=st.integers(1, 10**9),
    price=st.integers(1, 10**7),
    tax_ppm=st.integers(0, 300_000),
)
def test_the_tax_within_what_was_charged_is_the_tax_added(
    net: int, price: int, tax_ppm: int
) -> None:
    p = Money(price, "USD")
    t = Money(price * tax_ppm // 1_000_000, "USD")
    added = tax_on_top(Money(net, "USD"), p, t)
    gross = Money(net, "USD") + added
    assert abs(tax_within(gross, p, t).amount - added.amount) <= 1
    assert tax_within(p + t, p, t) == t  # the full price: exactly the checkout's tax
    assert tax_on_top(Money(net, "USD"), p, None) == Money(0, "USD")
