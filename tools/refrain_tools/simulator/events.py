"""Provider payloads as Stripe and Adyen send them, stamped with simulated time.

Only the fields a real payload carries and our mapping reads (see
refrain.providers.stripe_events / adyen_webhook) plus the identifying ones a
reader expects; the event time (`created` / `eventDate`) comes from the
caller's clock so months can pass in seconds. Amounts are :class:`Money` and
are converted with each provider's own amount rules (JPY, KWD, ...).

The Adyen factories live in :mod:`refrain_tools.simulator.adyen_events`, Stripe
Billing's subscription and invoice events in
:mod:`refrain_tools.simulator.stripe_billing` and the event envelope in
:mod:`refrain_tools.simulator.stripe_envelope`, all re-exported here; a whole
Stripe checkout (the session, the intent that saved the card, the customer) is
:mod:`refrain_tools.simulator.stripe_checkout`. Ids are derived from a
process-wide counter, so two calls never collide; pass ids explicitly when a
test needs to know them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from refrain.domain.clock import basic_utc_stamp
from refrain.domain.money import Money
from refrain_tools.simulator.adyen_events import (
    ADYEN_MERCHANT_ACCOUNT,
    adyen_chargeback,
    adyen_checkout,
    adyen_item,
    adyen_recurring_contract,
    adyen_refund,
    adyen_renewal,
    new_psp,
)
from refrain_tools.simulator.stripe_billing import (
    billing_checkout,
    billing_invoice,
    billing_subscription,
)
from refrain_tools.simulator.stripe_envelope import (
    STRIPE_API_VERSION,
    new_id,
    stripe_amount,
    stripe_event,
)
from refrain_tools.simulator.stripe_envelope import unix as _unix
from refrain_tools.simulator.stripe_tax import DEFAULT_STATE, stripe_tax

__all__ = [
    "ADYEN_MERCHANT_ACCOUNT",
    "STRIPE_API_VERSION",
    "adyen_chargeback",
    "adyen_checkout",
    "adyen_item",
    "adyen_recurring_contract",
    "adyen_refund",
    "adyen_renewal",
    "billing_checkout",
    "billing_invoice",
    "billing_subscription",
    "charge_refunded",
    "checkout_session_completed",
    "dispute_created",
    "new_id",
    "new_psp",
    "payment_intent",
    "payment_intent_event",
    "renewal_metadata",
    "stripe_amount",
    "stripe_event",
]


def checkout_session_completed(
    *,
    at: datetime,
    subscription_id: str,
    account_id: str,
    plan: str,
    market: str,
    amount: Money,
    email: str,
    locale: str,
    customer: str | None = None,
    session_id: str | None = None,
    payment_intent: str | None = None,
    setup_intent: str | None = None,
    refrain_metadata: bool = True,
    state: str | None = None,
) -> dict[str, Any]:
    """A completed Checkout Session as Stripe sends it: it never names the saved card.

    ``amount`` is the price; where the market's tax depends on the address, Stripe Tax
    adds it on top (``automatic_tax``, ``total_details.amount_tax``) for a customer in
    ``state`` (refrain_tools.simulator.stripe_tax).

    ``refrain_metadata=False``: a business's own session (its client_reference_id and
    Prices, no metadata); Refrain maps its line items' Price (see stripe_checkout).

    Payment mode (paid) by default; with ``setup_intent``, setup mode (no payment,
    ``no_payment_required``). Our metadata is what the merchant set when creating
    the session; the card comes from the intent's own event (see stripe_checkout).
    """
    value, currency = stripe_amount(amount)
    setup = setup_intent is not None
    tax = stripe_tax(market, amount, state)
    taxed = tax is not None
    tax_value = stripe_amount(tax)[0] if tax is not None and not setup else 0
    session = {
        "id": session_id or new_id("cs_test", 24),
        "object": "checkout.session",
        "mode": "setup" if setup else "payment",
        "status": "complete",
        "payment_status": "no_payment_required" if setup else "paid",
        "amount_subtotal": None if setup else value,
        "amount_total": None if setup else value + tax_value,
        "automatic_tax": {
            "enabled": taxed,
            "liability": {"type": "self"} if taxed else None,
            "provider": "stripe" if taxed else None,
            "status": "complete" if taxed else None,
        },
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": tax_value},
        "currency": currency,
        "created": _unix(at),
        "customer": customer or new_id("cus"),
        "customer_creation": "always",
        "customer_details": {
            "email": email,
            "name": None,
            "phone": None,
            "tax_exempt": "none",
            "address": {
                "city": None,
                "country": market,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": (state or DEFAULT_STATE.get(market)) if taxed else None,
            },
        },
        "customer_email": None,
        "client_reference_id": account_id,
        "locale": None,
        "payment_intent": None if setup else (payment_intent or new_id("pi")),
        "setup_intent": setup_intent,
        "payment_method_types": ["card"],
        "saved_payment_method_options": {
            "allow_redisplay_filters": None,
            "payment_method_remove": None,
            "payment_method_save": None,
        },
        "subscription": None,
        "invoice": None,
        "metadata": {
            "account_id": account_id,
            "plan": plan,
            "market": market,
            "subscription_id": subscription_id,
            "locale": locale,
        }
        if refrain_metadata
        else {},
        "livemode": False,
    }
    return stripe_event("checkout.session.completed", session, at)


def payment_intent(
    *,
    at: datetime,
    amount: Money,
    customer: str | None,
    payment_method: str,
    metadata: dict[str, str],
    succeeded: bool,
    pi_id: str | None = None,
    charge_id: str | None = None,
    code: str | None = None,
    decline_code: str | None = None,
    message: str = "Your card was declined.",
    setup_future_usage: str | None = None,
) -> dict[str, Any]:
    """A confirmed PaymentIntent: ``succeeded`` or back to requires_payment_method.

    ``setup_future_usage="off_session"``: a checkout's PaymentIntent that saved the card.
    """
    value, currency = stripe_amount(amount)
    error = None
    if not succeeded:
        error = {
            "type": "card_error",
            "code": code or "card_declined",
            "decline_code": decline_code,
            "message": message,
            "charge": charge_id,
            "doc_url": f"https://stripe.com/docs/error-codes/{code or 'card-declined'}",
        }
    return {
        "id": pi_id or new_id("pi"),
        "object": "payment_intent",
        "amount": value,
        "amount_received": value if succeeded else 0,
        "currency": currency,
        "customer": customer,
        "payment_method": payment_method,
        "capture_method": "automatic_async",
        "confirmation_method": "automatic",
        "created": _unix(at),
        "description": f"Renewal {metadata.get('charge_id', '')}".strip(),
        "latest_charge": charge_id or new_id("ch"),
        "last_payment_error": error,
        "metadata": dict(metadata),
        "setup_future_usage": setup_future_usage,
        "status": "succeeded" if succeeded else "requires_payment_method",
        "livemode": False,
    }


def payment_intent_event(intent: dict[str, Any], at: datetime) -> dict[str, Any]:
    """payment_intent.succeeded or .payment_failed for a PaymentIntent object."""
    kind = "succeeded" if intent["status"] == "succeeded" else "payment_failed"
    return stripe_event(f"payment_intent.{kind}", intent, at)


def renewal_metadata(subscription_id: str, anchor: datetime, attempt: int) -> dict[str, str]:
    """What our renewal gateway puts on every PaymentIntent (and the webhook reads back)."""
    return {
        "subscription_id": subscription_id,
        "charge_id": f"{subscription_id}:{basic_utc_stamp(anchor)}:{attempt}",
        "billing_anchor": anchor.isoformat(),
        "attempt": str(attempt),
    }


def charge_refunded(
    *,
    at: datetime,
    payment_intent: str,
    amount: Money,
    refunded: Money | None = None,
    metadata: dict[str, str] | None = None,
    charge_id: str | None = None,
    previously_refunded: Money | None = None,
) -> dict[str, Any]:
    """charge.refunded; the charge carries the PaymentIntent's metadata as created.

    ``refunded`` is the cumulative ``amount_refunded`` after this refund (default: all of
    it); ``previously_refunded`` what earlier refunds took, sent as previous_attributes.
    """
    value, currency = stripe_amount(amount)
    before = stripe_amount(previously_refunded)[0] if previously_refunded else 0
    charge = {
        "id": charge_id or new_id("ch"),
        "object": "charge",
        "amount": value,
        "amount_captured": value,
        "amount_refunded": stripe_amount(refunded or amount)[0],
        "currency": currency,
        "payment_intent": payment_intent,
        "paid": True,
        "refunded": refunded is None or refunded == amount,
        "status": "succeeded",
        "created": _unix(at),
        "metadata": dict(metadata or {}),
    }
    previous = {"amount_refunded": before, "refunded": False}
    return stripe_event("charge.refunded", charge, at, previous_attributes=previous)


def dispute_created(
    *,
    at: datetime,
    payment_intent: str,
    amount: Money,
    charge_id: str | None = None,
    reason: str = "fraudulent",
    metadata: dict[str, str] | None = None,
    dispute_id: str | None = None,
    status: str = "needs_response",
) -> dict[str, Any]:
    """charge.dispute.created (a chargeback): the card network took the money back.

    ``status`` "won" / "lost" makes it the ``charge.dispute.closed`` of that dispute.
    """
    value, currency = stripe_amount(amount)
    dispute = {
        "id": dispute_id or new_id("du"),
        "object": "dispute",
        "amount": value,
        "currency": currency,
        "charge": charge_id or new_id("ch"),
        "payment_intent": payment_intent,
        "reason": reason,
        "status": status,
        "created": _unix(at),
        "is_charge_refundable": False,
        "metadata": dict(metadata or {}),
    }
    closed = status in ("won", "lost", "warning_closed")
    return stripe_event(f"charge.dispute.{'closed' if closed else 'created'}", dispute, at)
