"""A whole Stripe Checkout as Stripe carries it out: the events, the customer, the saved card.

The three ways a real integration saves the card renewals charge off-session
(see refrain.providers.stripe_payment_methods), each with the events Stripe sends
to an endpoint subscribed to them, in the order Stripe usually emits them
(delivery may reorder them):

``PAYMENT_INTENT``   payment mode, ``payment_intent_data.setup_future_usage=off_session``:
                     ``payment_intent.succeeded`` (``payment_method``, ``customer``,
                     ``setup_future_usage``) then ``checkout.session.completed``;
``SETUP_INTENT``     setup mode (a trial, charged at its end):
                     ``setup_intent.succeeded`` then ``checkout.session.completed``;
``CUSTOMER_DEFAULT`` payment mode for a customer whose
                     ``invoice_settings.default_payment_method`` was set before (no
                     card is saved by this checkout, no event names it): Stripe's API
                     answers it, so the flow's ``customer`` goes into the simulated
                     account (:meth:`GatewaySimulator.save_customer`).

Object shapes follow Stripe's API reference and stripe-mock's fixtures; no field
is added that Stripe does not send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from refrain.domain.money import Money
from refrain_tools.simulator.events import (
    checkout_session_completed,
    new_id,
    payment_intent,
    payment_intent_event,
    stripe_amount,
    stripe_event,
)
from refrain_tools.simulator.stripe_tax import stripe_tax


class CheckoutFlow(StrEnum):
    PAYMENT_INTENT = "payment_intent"
    SETUP_INTENT = "setup_intent"
    CUSTOMER_DEFAULT = "customer_default"


@dataclass(frozen=True)
class StripeCheckout:
    events: list[dict[str, Any]]  # in the order Stripe emits them
    customer: dict[str, Any]  # the Customer object as the API returns it afterwards
    payment_method: str  # the card a renewal must charge
    # What the session sold, as GET /v1/checkout/sessions/{id}/line_items answers
    # (GatewaySimulator.save_line_items); empty in setup mode.
    line_items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def session(self) -> dict[str, Any]:
        return next(e for e in self.events if e["type"] == "checkout.session.completed")


def stripe_customer(
    customer_id: str, *, email: str, at: datetime, default_payment_method: str | None = None
) -> dict[str, Any]:
    """A Customer object (``GET /v1/customers/{id}``)."""
    return {
        "id": customer_id,
        "object": "customer",
        "created": int(at.timestamp()),
        "email": email,
        "default_source": None,
        "delinquent": False,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": default_payment_method,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
    }


def setup_intent_succeeded(
    *, at: datetime, customer: str | None, payment_method: str, seti_id: str | None = None
) -> dict[str, Any]:
    """setup_intent.succeeded: the card is saved (and attached to ``customer``)."""
    intent = {
        "id": seti_id or new_id("seti"),
        "object": "setup_intent",
        "created": int(at.timestamp()),
        "customer": customer,
        "description": None,
        "last_setup_error": None,
        "latest_attempt": new_id("setatt"),
        "livemode": False,
        "mandate": None,
        "metadata": {},
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "status": "succeeded",
        "usage": "off_session",
    }
    return stripe_event("setup_intent.succeeded", intent, at)


def payment_method_attached(*, at: datetime, customer: str, payment_method: str) -> dict[str, Any]:
    """payment_method.attached: a card saved to the customer (e.g. a card change)."""
    method = {
        "id": payment_method,
        "object": "payment_method",
        "allow_redisplay": "always",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "card": {"brand": "visa", "country": "US", "exp_month": 8, "exp_year": 2030},
        "created": int(at.timestamp()),
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }
    return stripe_event("payment_method.attached", method, at)


def customer_updated(
    *, at: datetime, customer: dict[str, Any], default_payment_method: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(customer.updated, the customer after it): a new invoice default, with what it was."""
    settings = customer["invoice_settings"]
    after = {
        **customer,
        "invoice_settings": {**settings, "default_payment_method": default_payment_method},
    }
    previous = {"invoice_settings": {"default_payment_method": settings["default_payment_method"]}}
    return stripe_event("customer.updated", after, at, previous_attributes=previous), after


def stripe_price(
    price_id: str, amount: Money, *, at: datetime, lookup_key: str | None = None
) -> dict[str, Any]:
    """A one-time Price object (a merchant-managed subscription's first payment)."""
    value, currency = stripe_amount(amount)
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": int(at.timestamp()),
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": {},
        "nickname": None,
        "product": new_id("prod"),
        "recurring": None,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": value,
        "unit_amount_decimal": str(value),
    }


def line_item(price: dict[str, Any], description: str) -> dict[str, Any]:
    """One Checkout line item (``object: item``) selling ``price`` once."""
    value = price["unit_amount"]
    return {
        "id": new_id("li"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": value,
        "amount_tax": 0,
        "amount_total": value,
        "currency": price["currency"],
        "description": description,
        "price": price,
        "quantity": 1,
    }


def stripe_checkout(
    flow: CheckoutFlow,
    *,
    payment_method: str = "pm_ok",
    payment_intent_id: str | None = None,
    price: dict[str, Any] | None = None,
    **details: Any,
) -> StripeCheckout:
    """One customer's checkout, built the way ``flow`` saves the card.

    ``details``: the session's, as :func:`checkout_session_completed` takes them.
    ``price``: a business's own checkout: the session sells this Price and carries no
    Refrain metadata (payment mode only).
    """
    if price is not None:
        details = {**details, "refrain_metadata": False}
    details = {**details, "customer": details.get("customer") or new_id("cus")}
    at, customer, email = details["at"], details["customer"], details["email"]
    if flow is CheckoutFlow.SETUP_INTENT:
        saved = setup_intent_succeeded(at=at, customer=customer, payment_method=payment_method)
        session = checkout_session_completed(**details, setup_intent=saved["data"]["object"]["id"])
        profile = stripe_customer(customer, email=email, at=at)
        return StripeCheckout([saved, session], profile, payment_method)
    pi_id = payment_intent_id or new_id("pi")
    reusable = flow is CheckoutFlow.PAYMENT_INTENT
    tax = stripe_tax(str(details["market"]), details["amount"], details.get("state"))
    total = details["amount"] + tax if tax is not None else details["amount"]
    intent = payment_intent(
        at=at, amount=total, customer=customer, metadata={}, succeeded=True,
        pi_id=pi_id, payment_method=payment_method if reusable else new_id("pm"),
        setup_future_usage="off_session" if reusable else None,
    )  # fmt: skip
    intent["description"] = None
    session = checkout_session_completed(**details, payment_intent=pi_id)
    default = None if reusable else payment_method
    profile = stripe_customer(customer, email=email, at=at, default_payment_method=default)
    sold = [] if price is None else [line_item(price, str(details["plan"]))]
    events = [payment_intent_event(intent, at), session]
    return StripeCheckout(events, profile, payment_method, sold)
