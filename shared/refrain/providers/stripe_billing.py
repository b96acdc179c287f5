"""Stripe Billing (provider-managed): Stripe renews, Refrain mirrors what it reports.

customer.subscription.created starts the mirror (an updated or deleted that overtook it
waits, parked, until it exists); invoice.paid and invoice.payment_failed move its period
and grace. The plan comes from Refrain's metadata (``plan``, ``market``, ``account_id``)
when the subscription carries it, otherwise from the operator's price map
(refrain.providers.price_plans): a business's own Stripe Prices work as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from refrain.domain.catalog import Catalog
from refrain.domain.inputs import ProviderStateReported, ProviderStatus
from refrain.domain.subscription import BillingMode, ChurnType
from refrain.ingest.model import (
    MappingError,
    ProviderEvent,
    Subject,
    SubscriptionDraft,
    subscription_id_for,
)
from refrain.providers.price_plans import PlanName, PricePlans
from refrain.providers.stripe_fields import PROVIDER, metadata, money, timestamp

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


def _item(obj: Mapping[str, Any]) -> dict[str, Any]:
    items = (obj.get("items") or {}).get("data") or []
    return items[0] if items and isinstance(items[0], dict) else {}


def _plan_of(obj: Mapping[str, Any], prices: PricePlans) -> tuple[PlanName, str | None]:
    """(plan and market, the price's currency): Refrain's metadata, the operator's price map,
    then a lookup key that is itself a plan id."""
    meta = metadata(obj)
    price = _item(obj).get("price")
    price = price if isinstance(price, dict) else {}
    mapped = prices.lookup(price.get("id"), price.get("lookup_key"))
    plan = meta.get("plan") or (mapped.plan if mapped else None)
    plan = plan or price.get("lookup_key") or metadata(price).get("plan")
    market = meta.get("market") or (mapped.market if mapped else None)
    if not plan or not market:
        raise MappingError(
            f"price {price.get('id')!r} (lookup_key {price.get('lookup_key')!r}) names no "
            "plan and market: map it in STRIPE_PRICE_PLANS or set metadata plan and market"
        )
    currency = price.get("currency")
    return PlanName(str(plan), market), str(currency).upper() if currency else None


def subscription_event(
    base: dict[str, Any],
    obj: dict[str, Any],
    catalog: Catalog,
    previous: Mapping[str, Any],
    prices: PricePlans | None = None,
) -> ProviderEvent:
    """customer.subscription.created / updated / deleted → what Stripe says it is now."""
    meta = metadata(obj)
    stripe_sub = str(obj.get("id"))
    status = str(obj.get("status"))
    if base["event_type"] == "customer.subscription.deleted":
        status = "canceled"
    reported = _STATUS.get(status)
    if reported is None:
        return ProviderEvent(**base, ignored=f"subscription status {status} is not mirrored")
    item = _item(obj)
    period_end = timestamp(obj.get("current_period_end") or item.get("current_period_end"))
    period_start = timestamp(obj.get("current_period_start") or item.get("current_period_start"))
    if period_start and period_end and period_start >= period_end:
        period_start = None  # informational only; `until` is what the state machine needs
    name, currency = _plan_of(obj, prices or PricePlans())
    offer = catalog.offer(name.plan, name.market or "")
    if currency and currency != offer.price.currency:
        raise MappingError(
            f"the price is in {currency}, plan {name.plan} in {name.market} in "
            f"{offer.price.currency}: check STRIPE_PRICE_PLANS"
        )
    draft = None
    # Only `created` starts the mirror: an `updated` or `deleted` that overtook it is parked
    # until it exists, so the mirror sees every period in Stripe's order.
    if base["event_type"] == "customer.subscription.created":
        draft = SubscriptionDraft(
            account_id=meta.get("account_id") or str(obj.get("customer")),
            provider=PROVIDER,
            billing_mode=BillingMode.PROVIDER_MANAGED,
            plan=name.plan,
            market=offer.market.code,
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
            plan=name.plan,
            plan_rank=offer.plan.rank,
            price=offer.price,
        ),
    )


def _invoice_subscription(obj: Mapping[str, Any]) -> str | None:
    parent = obj.get("parent") or {}
    details = parent.get("subscription_details") or {}
    found = details.get("subscription") or obj.get("subscription")
    return str(found) if found else None


def invoice_event(
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
    end = timestamp(period.get("end")) or timestamp(obj.get("period_end"))
    start = timestamp(period.get("start")) or timestamp(obj.get("period_start"))
    if base["event_type"] == "invoice.paid":
        reported = ProviderStateReported(
            input_id=base["event_id"],
            occurred_at=base["occurred_at"],
            status=ProviderStatus.ACTIVE,
            until=end,
            period_start=start if start and end and start < end else None,
            paid_amount=money(obj.get("amount_paid"), obj.get("currency")),
            charge_id=str(obj.get("id")),
        )
    else:
        retry = timestamp(obj.get("next_payment_attempt"))
        reported = ProviderStateReported(
            input_id=base["event_id"],
            occurred_at=base["occurred_at"],
            status=ProviderStatus.IN_GRACE,
            until=retry or end,
        )
    return ProviderEvent(**base, subject=subject, input=reported)
