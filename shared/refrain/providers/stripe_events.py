"""Stripe events → provider-neutral inputs.

Merchant-managed (we charge renewals with PaymentIntents we create; their
metadata carries our subscription_id, charge_id, attempt and billing anchor):
checkout.session.completed (payment/setup mode), payment_intent.succeeded /
payment_failed, charge.refunded, charge.dispute.created / closed; the card
renewals charge comes from payment_intent.succeeded, setup_intent.succeeded,
payment_method.attached and customer.updated (see stripe_payment_methods).

Provider-managed (Stripe Billing renews; we mirror it): checkout.session
.completed (subscription mode), customer.subscription.created / updated /
deleted, invoice.paid, invoice.payment_failed, invoice.finalized.

Every other type is recorded as ignored. Event time is the event's `created`
(seconds): the state machine uses it to refuse stale reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from refrain.domain.catalog import Catalog, Offer
from refrain.domain.customer import CustomerDetails
from refrain.domain.declines import classify_stripe
from refrain.domain.errors import InvalidInput
from refrain.domain.inputs import (
    ChargebackOpened,
    CheckoutCompleted,
    DisputeClosed,
    PaymentFailed,
    PaymentSucceeded,
    RefundIssued,
)
from refrain.domain.money import Money
from refrain.domain.subscription import BillingMode
from refrain.domain.tax import TaxMode
from refrain.ingest.model import (
    MappingError,
    ProviderEvent,
    Subject,
    SubscriptionDraft,
    subscription_id_for,
)
from refrain.providers.price_plans import PlanName, PricePlans
from refrain.providers.stripe_billing import invoice_event, subscription_event
from refrain.providers.stripe_fields import PROVIDER, metadata, money, ref, timestamp
from refrain.providers.stripe_payment_methods import (
    CAPTURES,
    object_id,
    payment_method_ref,
    saved_by_payment_intent,
)

# The Prices a Checkout Session sold (Stripe leaves line_items out of the event); the
# adapter is refrain.adapters.stripe_checkout_prices.
SessionPrices = Callable[[str], list[dict[str, Any]]]


def normalise_stripe(
    event: Mapping[str, Any],
    catalog: Catalog,
    prices: PricePlans | None = None,
    session_prices: SessionPrices | None = None,
) -> ProviderEvent:
    """Map one verified Stripe event; MappingError when it cannot be understood."""
    try:
        event_id = str(event["id"])
        event_type = str(event["type"])
        obj = event["data"]["object"]
        previous = event["data"].get("previous_attributes") or {}
        occurred_at = timestamp(event["created"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise MappingError(f"not a Stripe event: missing {exc}") from exc
    if not isinstance(obj, dict) or occurred_at is None:
        raise MappingError("Stripe event has no data.object")
    if not isinstance(previous, dict):
        raise MappingError("Stripe event previous_attributes is not an object")
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
    }
    handler = _HANDLERS.get(event_type)
    if handler is None:
        return ProviderEvent(**base, ignored=f"event type {event_type} is not used")
    try:
        if handler is subscription_event:
            return subscription_event(base, obj, catalog, previous, prices)
        if handler is _checkout_session:
            return _checkout_session(
                base, obj, catalog, previous, prices, session_prices=session_prices
            )
        return handler(base, obj, catalog, previous)
    except InvalidInput as exc:
        raise MappingError(f"{event_type}: {exc}") from exc


def normalise_stripe_events(
    event: Mapping[str, Any],
    catalog: Catalog,
    prices: PricePlans | None = None,
    session_prices: SessionPrices | None = None,
) -> list[ProviderEvent]:
    """Every input one event carries: a checkout PaymentIntent's success also saves its card."""
    main = normalise_stripe(event, catalog, prices, session_prices)
    if main.event_type != "payment_intent.succeeded" or main.ignored:
        return [main]
    base = {k: getattr(main, k) for k in ("provider", "event_id", "event_type", "occurred_at")}
    saved = saved_by_payment_intent(base, event["data"]["object"])
    return [main] if saved is None else [saved, main]


# merchant-managed -----------------------------------------------------------


def _sold_plan(
    session_id: str, prices: PricePlans, session_prices: SessionPrices | None
) -> PlanName:
    """The plan a session without Refrain's metadata sold: its Prices, through the price map."""
    if session_prices is None:
        raise MappingError(
            "checkout session has no plan metadata, and without STRIPE_API_KEY its line "
            "items cannot be read"
        )
    sold = session_prices(session_id)
    for price in sold:
        found = prices.lookup(price.get("id"), price.get("lookup_key"))
        if found is not None:
            return found
    names = [(p.get("id"), p.get("lookup_key")) for p in sold]
    raise MappingError(f"checkout sold prices {names} that STRIPE_PRICE_PLANS does not map")


def _billing_country(obj: Mapping[str, Any]) -> str | None:
    details = obj.get("customer_details")
    address = details.get("address") if isinstance(details, dict) else None
    country = address.get("country") if isinstance(address, dict) else None
    return country.upper() if isinstance(country, str) and country else None


def _checkout_session(
    base: dict[str, Any],
    obj: dict[str, Any],
    catalog: Catalog,
    previous: Mapping[str, Any],
    prices: PricePlans | None = None,
    *,
    session_prices: SessionPrices | None = None,
) -> ProviderEvent:
    meta = metadata(obj)
    details = obj.get("customer_details") or {}
    customer_id = obj.get("customer")
    account_id = meta.get("account_id") or obj.get("client_reference_id") or customer_id
    customer = CustomerDetails(
        email=details.get("email") or obj.get("customer_email"),
        name=details.get("name"),
        locale=meta.get("locale") or obj.get("locale"),
        market=meta.get("market"),
    )
    if obj.get("mode") == "subscription":
        stripe_sub = obj.get("subscription")
        sub_id = subscription_id_for(PROVIDER, stripe_sub) if stripe_sub else None
        return ProviderEvent(
            **base,
            subject=Subject(subscription_id=sub_id) if sub_id else None,
            customer=customer,
            account_id=account_id,
            refs=tuple(r for r in (ref(stripe_sub), ref(customer_id)) if r),
            ignored="Stripe Billing subscription: state comes from customer.subscription.*",
        )
    if obj.get("status") != "complete":
        return ProviderEvent(**base, ignored="checkout session not complete")
    plan, market = meta.get("plan"), meta.get("market")
    if not plan:
        sold = _sold_plan(str(obj.get("id")), prices or PricePlans(), session_prices)
        plan, market = sold.plan, market or sold.market
    market = market or _billing_country(obj)
    if not (account_id and market):
        raise MappingError("checkout session names no account (client_reference_id) or market")
    offer = catalog.offer(plan, market)
    sub_id = meta.get("subscription_id") or subscription_id_for(PROVIDER, str(obj["id"]))
    paid = obj.get("payment_status") == "paid" and obj.get("mode") == "payment"
    payment_intent = object_id(obj.get("payment_intent"))
    # The session never carries the saved card: the customer until an intent's event (or
    # the customer's invoice default) names it; see stripe_payment_methods.
    method_ref = payment_method_ref(object_id(customer_id), None)
    intents = (payment_intent, object_id(obj.get("setup_intent")), customer_id)
    amount = money(obj.get("amount_total"), obj.get("currency")) if paid else None
    tax = checkout_tax(obj, offer, amount)
    net = amount - tax if amount is not None and tax is not None else amount
    if net is not None and net != offer.price:
        raise MappingError(f"checkout charged {net} before tax, the catalog price is {offer.price}")
    return ProviderEvent(
        **base,
        subject=Subject(subscription_id=sub_id),
        input=CheckoutCompleted(
            input_id=base["event_id"],
            occurred_at=base["occurred_at"],
            payment_method_ref=method_ref,
            trial_days=0 if paid else offer.trial_days,
            paid=paid,
            charge_id=payment_intent,
            amount=amount,
            tax=tax,
        ),
        draft=SubscriptionDraft(
            account_id=str(account_id),
            provider=PROVIDER,
            billing_mode=BillingMode.MERCHANT_MANAGED,
            plan=plan,
            market=market,
            payment_method_ref=method_ref,
        ),
        customer=customer,
        account_id=str(account_id),
        refs=tuple(r for r in map(ref, intents) if r),
    )


def checkout_tax(obj: Mapping[str, Any], offer: Offer, amount: Money | None) -> Money | None:
    """The tax a paid Checkout Session added on top of the price (tax-exclusive markets).

    Read from the signed session: ``total_details.amount_tax``; where the tax depends on
    the address, only with Stripe Tax having computed it (``automatic_tax.status`` is
    ``complete``), never guessed. Where prices include the tax: None. A trial in an
    address-tax market is refused: nothing would tell its renewals' tax.
    """
    market = offer.market
    if market.tax_mode is TaxMode.INCLUSIVE:
        return None
    automatic = obj.get("automatic_tax") or {}
    computed = automatic.get("enabled") is True and automatic.get("status") == "complete"
    if market.tax_source == "address" and not computed:
        raise MappingError(
            f"tax in {market.code} depends on the address and Stripe Tax did not compute it "
            f"(automatic_tax {automatic.get('status')!r}): refused, not guessed"
        )
    if amount is None:
        if market.tax_source == "address":
            raise MappingError(f"a trial in {market.code} cannot know its renewals' tax")
        return None
    reported = (obj.get("total_details") or {}).get("amount_tax")
    if not isinstance(reported, int) or reported < 0:
        raise MappingError(f"checkout in {market.code} reports no tax (total_details.amount_tax)")
    tax = money(reported, obj.get("currency"))
    if market.tax_source == "catalog" and tax != offer.tax_on_top():
        raise MappingError(f"checkout tax {tax}, the catalog's rate gives {offer.tax_on_top()}")
    return tax


def _charge_subject(meta: Mapping[str, str], *refs: str | None) -> Subject:
    if meta.get("subscription_id"):
        return Subject(subscription_id=meta["subscription_id"])
    ref = next((r for r in refs if r), None)
    if ref is None:
        raise MappingError("charge carries neither our subscription_id nor a reference")
    return Subject(ref=ref)


def _charge_period(meta: Mapping[str, str]) -> datetime | None:
    raw = meta.get("billing_anchor")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError as exc:
        raise MappingError(f"bad billing_anchor metadata {raw!r}") from exc


def _attempt(meta: Mapping[str, str]) -> int | None:
    raw = meta.get("attempt")
    return int(raw) if raw and raw.isdigit() else None


def _payment_intent(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    meta = metadata(obj)
    pi_id = str(obj.get("id"))
    charge_id = meta.get("charge_id") or pi_id
    subject = _charge_subject(meta, ref(pi_id))
    common = {
        "input_id": base["event_id"],
        "occurred_at": base["occurred_at"],
        "charge_id": charge_id,
        "charge_period": _charge_period(meta),
        "attempt": _attempt(meta),
    }
    refs = tuple(r for r in (ref(pi_id), ref(obj.get("latest_charge"))) if r)
    if base["event_type"] == "payment_intent.succeeded":
        amount = money(obj.get("amount_received") or obj.get("amount"), obj.get("currency"))
        return ProviderEvent(
            **base, subject=subject, refs=refs, input=PaymentSucceeded(amount=amount, **common)
        )
    error = obj.get("last_payment_error") or {}
    decline = classify_stripe(error.get("code"), error.get("decline_code"))
    return ProviderEvent(
        **base,
        subject=subject,
        refs=refs,
        input=PaymentFailed(
            amount=money(obj.get("amount"), obj.get("currency")), decline=decline, **common
        ),
    )


def _charge_refunded(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    meta = metadata(obj)
    pi_id = obj.get("payment_intent")
    charge_id = meta.get("charge_id") or pi_id or str(obj.get("id"))
    # `amount_refunded` is cumulative: this event's refund is what it added, read from the
    # signed `previous_attributes` (absent only on a first refund's older shapes: then 0).
    before = previous.get("amount_refunded", 0)
    total = money(obj.get("amount_refunded"), obj.get("currency"))
    refunded = total - money(before, obj.get("currency"))
    if refunded.amount <= 0:
        return ProviderEvent(**base, ignored="charge.refunded without a new refund amount")
    return ProviderEvent(
        **base,
        subject=_charge_subject(meta, ref(pi_id), ref(obj.get("id"))),
        input=RefundIssued(
            input_id=base["event_id"],
            occurred_at=base["occurred_at"],
            charge_id=charge_id,
            amount=refunded,
            reason=meta.get("refund_reason"),
            revoke_access=meta.get("revoke_access") == "true",
            refunded_total=total,
            payment_ref=str(pi_id or obj.get("id")),
        ),
    )


def _dispute(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    pi_id, charge = obj.get("payment_intent"), obj.get("charge")
    subject = _charge_subject(metadata(obj), ref(pi_id), ref(charge))
    common: dict[str, Any] = {
        "input_id": base["event_id"],
        "occurred_at": base["occurred_at"],
        "charge_id": str(pi_id or charge),
        "amount": money(obj.get("amount"), obj.get("currency")),
        "dispute_id": str(obj.get("id")),
        "payment_ref": str(pi_id or charge),
    }
    if base["event_type"] == "charge.dispute.closed":
        status = obj.get("status")
        if status not in ("won", "lost"):  # warning_closed: an inquiry, no money moved
            return ProviderEvent(**base, subject=subject, ignored=f"dispute closed {status}")
        return ProviderEvent(
            **base, subject=subject, input=DisputeClosed(won=status == "won", **common)
        )
    return ProviderEvent(
        **base,
        subject=subject,
        input=ChargebackOpened(
            reason_code=obj.get("reason"),
            evidence_due_at=timestamp((obj.get("evidence_details") or {}).get("due_by")),
            **common,
        ),
    )


_HANDLERS = {
    "checkout.session.completed": _checkout_session,
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.payment_failed": _payment_intent,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute,
    "charge.dispute.closed": _dispute,
    "customer.subscription.created": subscription_event,
    "customer.subscription.updated": subscription_event,
    "customer.subscription.deleted": subscription_event,
    "invoice.paid": invoice_event,
    "invoice.payment_failed": invoice_event,
    "invoice.finalized": invoice_event,
    **CAPTURES,
}
