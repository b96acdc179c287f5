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

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from refrain.domain.catalog import Catalog
from refrain.domain.customer import CustomerDetails
from refrain.domain.declines import classify_stripe
from refrain.domain.errors import InvalidInput
from refrain.domain.inputs import (
    ChargebackOpened,
    CheckoutCompleted,
    PaymentFailed,
    PaymentSucceeded,
    ProviderStateReported,
    ProviderStatus,
    RefundIssued,
)
from refrain.domain.money import Money
from refrain.domain.provider_amounts import from_provider_amount
from refrain.domain.subscription import BillingMode, ChurnType
from refrain.ingest.model import (
    MappingError,
    ProviderEvent,
    Subject,
    SubscriptionDraft,
    subscription_id_for,
)
from refrain.providers.stripe_payment_methods import (
    CAPTURES,
    object_id,
    payment_method_ref,
    saved_by_payment_intent,
)

PROVIDER = "stripe"

# Stripe subscription status -> what the provider says the subscription is now.
_STATUS = {
    "active": ProviderStatus.ACTIVE,
    "trialing": ProviderStatus.ACTIVE,
    "past_due": ProviderStatus.IN_GRACE,
    "unpaid": ProviderStatus.ON_HOLD,
    "paused": ProviderStatus.PAUSED,
    "canceled": ProviderStatus.EXPIRED,
    "incomplete_expired": ProviderStatus.EXPIRED,
}


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"expected a unix timestamp, got {value!r}")
    return datetime.fromtimestamp(value, tz=UTC)


def _money(amount: Any, currency: Any) -> Money:
    if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(currency, str):
        raise MappingError("amount and currency are required")
    return from_provider_amount(amount, currency.upper(), PROVIDER)


def _ref(object_id: str | None) -> str | None:
    return f"{PROVIDER}:{object_id}" if object_id else None


def _meta(obj: Mapping[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def normalise_stripe(event: Mapping[str, Any], catalog: Catalog) -> ProviderEvent:
    """Map one verified Stripe event; MappingError when it cannot be understood."""
    try:
        event_id = str(event["id"])
        event_type = str(event["type"])
        obj = event["data"]["object"]
        previous = event["data"].get("previous_attributes") or {}
        occurred_at = _ts(event["created"])
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
        return handler(base, obj, catalog, previous)
    except InvalidInput as exc:
        raise MappingError(f"{event_type}: {exc}") from exc


def normalise_stripe_events(event: Mapping[str, Any], catalog: Catalog) -> list[ProviderEvent]:
    """Every input one event carries: a checkout PaymentIntent's success also saves its card."""
    main = normalise_stripe(event, catalog)
    if main.event_type != "payment_intent.succeeded" or main.ignored:
        return [main]
    base = {k: getattr(main, k) for k in ("provider", "event_id", "event_type", "occurred_at")}
    saved = saved_by_payment_intent(base, event["data"]["object"])
    return [main] if saved is None else [saved, main]


# merchant-managed -----------------------------------------------------------


def _checkout_session(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    meta = _meta(obj)
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
            refs=tuple(r for r in (_ref(stripe_sub), _ref(customer_id)) if r),
            ignored="Stripe Billing subscription: state comes from customer.subscription.*",
        )
    if obj.get("status") != "complete":
        return ProviderEvent(**base, ignored="checkout session not complete")
    plan, market = meta.get("plan"), meta.get("market")
    if not (account_id and plan and market):
        raise MappingError("checkout session lacks metadata account_id, plan and market")
    offer = catalog.offer(plan, market)
    sub_id = meta.get("subscription_id") or subscription_id_for(PROVIDER, str(obj["id"]))
    paid = obj.get("payment_status") == "paid" and obj.get("mode") == "payment"
    payment_intent = object_id(obj.get("payment_intent"))
    # The session never carries the saved card: the customer until an intent's event (or
    # the customer's invoice default) names it; see stripe_payment_methods.
    method_ref = payment_method_ref(object_id(customer_id), None)
    intents = (payment_intent, object_id(obj.get("setup_intent")), customer_id)
    amount = _money(obj.get("amount_total"), obj.get("currency")) if paid else None
    if amount is not None and amount != offer.price:
        raise MappingError(f"checkout charged {amount}, the catalog price is {offer.price}")
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
        refs=tuple(r for r in map(_ref, intents) if r),
    )


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
    meta = _meta(obj)
    pi_id = str(obj.get("id"))
    charge_id = meta.get("charge_id") or pi_id
    subject = _charge_subject(meta, _ref(pi_id))
    common = {
        "input_id": base["event_id"],
        "occurred_at": base["occurred_at"],
        "charge_id": charge_id,
        "charge_period": _charge_period(meta),
        "attempt": _attempt(meta),
    }
    refs = tuple(r for r in (_ref(pi_id), _ref(obj.get("latest_charge"))) if r)
    if base["event_type"] == "payment_intent.succeeded":
        amount = _money(obj.get("amount_received") or obj.get("amount"), obj.get("currency"))
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
            amount=_money(obj.get("amount"), obj.get("currency")), decline=decline, **common
        ),
    )


def _charge_refunded(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    meta = _meta(obj)
    pi_id = obj.get("payment_intent")
    charge_id = meta.get("charge_id") or pi_id or str(obj.get("id"))
    # `amount_refunded` is cumulative: this event's refund is what it added, read from the
    # signed `previous_attributes` (absent only on a first refund's older shapes: then 0).
    before = previous.get("amount_refunded", 0)
    total = _money(obj.get("amount_refunded"), obj.get("currency"))
    refunded = total - _money(before, obj.get("currency"))
    if refunded.amount <= 0:
        return ProviderEvent(**base, ignored="charge.refunded without a new refund amount")
    return ProviderEvent(
        **base,
        subject=_charge_subject(meta, _ref(pi_id), _ref(obj.get("id"))),
        input=RefundIssued(
            input_id=base["event_id"],
            occurred_at=base["occurred_at"],
            charge_id=charge_id,
            amount=refunded,
            reason=meta.get("refund_reason"),
            revoke_access=meta.get("revoke_access") == "true",
        ),
    )


def _dispute(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    pi_id, charge = obj.get("payment_intent"), obj.get("charge")
    subject = _charge_subject(_meta(obj), _ref(pi_id), _ref(charge))
    if base["event_type"] == "charge.dispute.closed":
        return ProviderEvent(
            **base, subject=subject, ignored=f"dispute closed with status {obj.get('status')}"
        )
    return ProviderEvent(
        **base,
        subject=subject,
        input=ChargebackOpened(
            input_id=base["event_id"],
            occurred_at=base["occurred_at"],
            charge_id=str(pi_id or charge),
            amount=_money(obj.get("amount"), obj.get("currency")),
            reason_code=obj.get("reason"),
        ),
    )


# provider-managed (Stripe Billing) ---------------------------------------------


def _item(obj: Mapping[str, Any]) -> dict[str, Any]:
    items = (obj.get("items") or {}).get("data") or []
    return items[0] if items and isinstance(items[0], dict) else {}


def _plan_of(obj: Mapping[str, Any], meta: Mapping[str, str]) -> str | None:
    price = _item(obj).get("price") or {}
    return meta.get("plan") or price.get("lookup_key") or _meta(price).get("plan")


def _subscription(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    meta = _meta(obj)
    stripe_sub = str(obj.get("id"))
    status = str(obj.get("status"))
    if base["event_type"] == "customer.subscription.deleted":
        status = "canceled"
    reported = _STATUS.get(status)
    if reported is None:
        return ProviderEvent(**base, ignored=f"subscription status {status} is not mirrored")
    item = _item(obj)
    period_end = _ts(obj.get("current_period_end") or item.get("current_period_end"))
    period_start = _ts(obj.get("current_period_start") or item.get("current_period_start"))
    if period_start and period_end and period_start >= period_end:
        period_start = None  # informational only; `until` is what the state machine needs
    plan_id, market = _plan_of(obj, meta), meta.get("market")
    plan_fields: dict[str, Any] = {}
    draft = None
    if plan_id and market:
        offer = catalog.offer(plan_id, market)
        plan_fields = {"plan": plan_id, "plan_rank": offer.plan.rank, "price": offer.price}
    # Only `created` starts the mirror: an `updated` or `deleted` that overtook it is parked
    # until it exists, so the mirror sees every period in Stripe's order.
    if plan_id and market and base["event_type"] == "customer.subscription.created":
        draft = SubscriptionDraft(
            account_id=meta.get("account_id") or str(obj.get("customer")),
            provider=PROVIDER,
            billing_mode=BillingMode.PROVIDER_MANAGED,
            plan=plan_id,
            market=market,
        )
    details = obj.get("cancellation_details") or {}
    churn = None
    if reported is ProviderStatus.EXPIRED:
        churn = (
            ChurnType.INVOLUNTARY
            if details.get("reason") == "payment_failed"
            else ChurnType.VOLUNTARY
        )
    needs_end = (ProviderStatus.ACTIVE, ProviderStatus.IN_GRACE, ProviderStatus.ON_HOLD)
    if reported in needs_end and period_end is None:
        raise MappingError("subscription has no current_period_end")
    return ProviderEvent(
        **base,
        subject=Subject(subscription_id=subscription_id_for(PROVIDER, stripe_sub)),
        draft=draft,
        refs=(f"{PROVIDER}:{stripe_sub}",),
        input=ProviderStateReported(
            input_id=base["event_id"],
            occurred_at=base["occurred_at"],
            status=reported,
            until=period_end,
            period_start=period_start,
            cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
            in_trial=status == "trialing",
            churn_type=churn,
            cancel_reason=details.get("feedback") or details.get("reason"),
            **plan_fields,
        ),
    )


def _invoice_subscription(obj: Mapping[str, Any]) -> str | None:
    parent = obj.get("parent") or {}
    details = parent.get("subscription_details") or {}
    found = details.get("subscription") or obj.get("subscription")
    return str(found) if found else None


def _invoice(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    stripe_sub = _invoice_subscription(obj)
    if stripe_sub is None:
        return ProviderEvent(**base, ignored="invoice is not for a subscription")
    subject = Subject(subscription_id=subscription_id_for(PROVIDER, stripe_sub))
    if base["event_type"] == "invoice.finalized":
        return ProviderEvent(
            **base, subject=subject, ignored="invoice finalised; its payment outcome follows"
        )
    lines = (obj.get("lines") or {}).get("data") or [{}]
    period = lines[0].get("period") or {}
    end = _ts(period.get("end")) or _ts(obj.get("period_end"))
    start = _ts(period.get("start")) or _ts(obj.get("period_start"))
    if base["event_type"] == "invoice.paid":
        reported = ProviderStateReported(
            input_id=base["event_id"],
            occurred_at=base["occurred_at"],
            status=ProviderStatus.ACTIVE,
            until=end,
            period_start=start if start and end and start < end else None,
            paid_amount=_money(obj.get("amount_paid"), obj.get("currency")),
            charge_id=str(obj.get("id")),
        )
    else:
        retry = _ts(obj.get("next_payment_attempt"))
        reported = ProviderStateReported(
            input_id=base["event_id"],
            occurred_at=base["occurred_at"],
            status=ProviderStatus.IN_GRACE,
            until=retry or end,
        )
    return ProviderEvent(**base, subject=subject, input=reported)


_HANDLERS = {
    "checkout.session.completed": _checkout_session,
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.payment_failed": _payment_intent,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute,
    "charge.dispute.closed": _dispute,
    "customer.subscription.created": _subscription,
    "customer.subscription.updated": _subscription,
    "customer.subscription.deleted": _subscription,
    "invoice.paid": _invoice,
    "invoice.payment_failed": _invoice,
    "invoice.finalized": _invoice,
    **CAPTURES,
}
