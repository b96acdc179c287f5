"""Stripe Billing (provider-managed): Stripe renews, and tells us in these events.

customer.subscription.{created,updated,deleted} and invoice.{paid,payment_failed}
as Stripe sends them for a subscription it bills; the merchant's metadata
(``account_id``, ``plan``, ``market``) is what it set on the subscription at
checkout (``subscription_data.metadata``). Times are the caller's simulated time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from refrain.domain.money import Money
from refrain_tools.simulator.stripe_envelope import new_id, stripe_amount, stripe_event, unix


def billing_subscription(
    kind: str,
    *,
    at: datetime,
    stripe_subscription: str,
    customer: str,
    account_id: str,
    plan: str,
    market: str,
    amount: Money,
    period_start: datetime,
    period_end: datetime,
    status: str = "active",
    cancel_at_period_end: bool = False,
    cancellation_reason: str | None = None,
    started: datetime | None = None,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """customer.subscription.{created,updated,deleted} for a Stripe Billing subscription.

    Since API 2025-03-31 the period lives on the items (items[0].current_period_*).
    ``started``: when the subscription was created (default: this period's start);
    ``previous_attributes``: on ``updated``, the changed fields' values before it.
    """
    if kind not in ("created", "updated", "deleted"):
        raise ValueError(f"unknown subscription event kind {kind!r}")
    value, currency = stripe_amount(amount)
    item = {
        "id": "si_" + stripe_subscription.removeprefix("sub_"),
        "object": "subscription_item",
        "subscription": stripe_subscription,
        "quantity": 1,
        "current_period_start": unix(period_start),
        "current_period_end": unix(period_end),
        "price": {
            "id": f"price_{plan}_{market}",
            "object": "price",
            "lookup_key": plan,
            "currency": currency,
            "unit_amount": value,
            "recurring": {"interval": "year" if plan.endswith("yearly") else "month"},
            "metadata": {"plan": plan},
        },
    }
    sub = {
        "id": stripe_subscription,
        "object": "subscription",
        "customer": customer,
        "status": "canceled" if kind == "deleted" else status,
        "currency": currency,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": unix(at) if kind == "deleted" or cancel_at_period_end else None,
        "cancellation_details": {"reason": cancellation_reason, "feedback": None, "comment": None},
        "created": unix(started or period_start),
        "start_date": unix(started or period_start),
        "ended_at": unix(at) if kind == "deleted" else None,
        "collection_method": "charge_automatically",
        "items": {"object": "list", "data": [item]},
        "metadata": {"account_id": account_id, "plan": plan, "market": market},
        "livemode": False,
    }
    event_type = f"customer.subscription.{kind}"
    return stripe_event(event_type, sub, at, previous_attributes=previous_attributes)


def billing_invoice(
    *,
    at: datetime,
    stripe_subscription: str,
    customer: str,
    amount: Money,
    period_start: datetime,
    period_end: datetime,
    paid: bool,
    next_payment_attempt: datetime | None = None,
    invoice_id: str | None = None,
    billing_reason: str = "subscription_cycle",
    attempt_count: int = 1,
) -> dict[str, Any]:
    """invoice.paid or invoice.payment_failed for one Stripe Billing period.

    ``billing_reason``: ``subscription_create`` for the first invoice, else a renewal's
    ``subscription_cycle``; ``attempt_count``: which payment attempt this outcome is.
    """
    value, currency = stripe_amount(amount)
    period = {"start": unix(period_start), "end": unix(period_end)}
    invoice = {
        "id": invoice_id or new_id("in"),
        "object": "invoice",
        "customer": customer,
        "currency": currency,
        "amount_due": value,
        "amount_paid": value if paid else 0,
        "amount_remaining": 0 if paid else value,
        "attempt_count": attempt_count,
        "attempted": True,
        "billing_reason": billing_reason,
        "status": "paid" if paid else "open",
        "created": unix(at),
        "period_start": period["start"],
        "period_end": period["end"],
        "next_payment_attempt": unix(next_payment_attempt) if next_payment_attempt else None,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": stripe_subscription, "metadata": {}},
        },
        "lines": {
            "object": "list",
            "data": [
                {"object": "line_item", "amount": value, "currency": currency, "period": period}
            ],
        },
        "livemode": False,
    }
    return stripe_event("invoice.paid" if paid else "invoice.payment_failed", invoice, at)


def billing_checkout(
    *,
    at: datetime,
    stripe_subscription: str,
    invoice_id: str,
    customer: str,
    account_id: str,
    plan: str,
    market: str,
    amount: Money,
    email: str,
    locale: str,
) -> dict[str, Any]:
    """checkout.session.completed of a subscription-mode Checkout Session.

    Stripe Billing created the subscription and paid its first invoice; the session
    names both. There is no PaymentIntent of ours, and no ``subscription_id`` in the
    metadata: Refrain derives its id from Stripe's.
    """
    from refrain_tools.simulator.events import checkout_session_completed

    event = checkout_session_completed(
        at=at, subscription_id="", account_id=account_id, plan=plan, market=market,
        amount=amount, email=email, locale=locale, customer=customer,
    )  # fmt: skip
    session = event["data"]["object"]
    session.update(
        mode="subscription", payment_intent=None, subscription=stripe_subscription,
        invoice=invoice_id,
    )  # fmt: skip
    session["metadata"].pop("subscription_id")
    return event
