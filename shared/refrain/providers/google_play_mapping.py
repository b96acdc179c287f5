"""Google Play: a decoded RTDN plus the purchase fetched from the API → one input.

The store's API is the source of truth (the notification only signals a
change), so every subscription notification becomes "mirror what
``purchases.subscriptionsv2.get`` says now", stamped with the notification's
``eventTimeMillis``. An older notification that arrives late is therefore
stale against the watermark and changes nothing; a late one that is not
stale still reports the current state, never an old one.

===============================  ================================================
``subscriptionState``            report
===============================  ================================================
ACTIVE                           active until ``lineItems[].expiryTime``;
                                 ``cancel_at_period_end = not autoRenewEnabled``
CANCELED                         active until expiry, cancel at period end
IN_GRACE_PERIOD                  in_grace until expiry (Play extends it in grace)
ON_HOLD                          on_hold until expiry + account-hold days
PAUSED                           paused until ``pausedStateContext.autoResumeTime``
EXPIRED                          expired (churn type and reason from
                                 ``canceledStateContext``)
PENDING, PENDING_PURCHASE_...    ignored (no paid access yet)
===============================  ================================================

SUBSCRIPTION_PRICE_CHANGE_CONFIRMED (8) and _UPDATED (19) with an outstanding or
confirmed ``priceChangeDetails`` become a price change told, needing consent or consented
(refrain.providers.store_prices); otherwise they report the state like any other.

SUBSCRIPTION_REVOKED (12), and a voided subscription purchase whose
subscription has ended, report ``revoked`` (refunded: access ends now). A
voided purchase of a subscription still running is a refund of a past order
without revocation: recorded as ignored. Test notifications and one-time
products are recorded as ignored. No store notification emits
``invoice.paid``: the store, not us, is merchant of record and sends receipts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from refrain.domain.catalog import Catalog
from refrain.domain.errors import DomainError, InvalidInput
from refrain.domain.inputs import PriceChangeNoticed, ProviderStateReported, ProviderStatus
from refrain.domain.subscription import BillingMode, ChurnType
from refrain.ingest.model import (
    MappingError,
    ProviderEvent,
    Subject,
    SubscriptionDraft,
    subscription_id_for,
)
from refrain.providers.google_play_rtdn import PROVIDER, PlayNotificationType, PlayPush
from refrain.providers.store_prices import play_price_change

PLAY_SUBSCRIPTION_PRODUCT = 1  # voidedPurchaseNotification.productType


class PurchaseNotFound(MappingError):
    """The API does not know this purchase token (404/410): permanent for this package."""


class PlayPurchases(Protocol):
    """The Android Publisher API, as much of it as we read."""

    def get_subscription(self, package_name: str, purchase_token: str) -> dict[str, Any]:
        """``purchases.subscriptionsv2.get``: a SubscriptionPurchaseV2 as a dict."""
        ...


@dataclass(frozen=True, slots=True)
class PlayConfig:
    """``product_plans`` maps a Play productId to our plan id (unmapped: same id)."""

    product_plans: Mapping[str, str] = field(default_factory=dict)
    hold_days: int = 30


_STATES = {
    "SUBSCRIPTION_STATE_ACTIVE": ProviderStatus.ACTIVE,
    "SUBSCRIPTION_STATE_CANCELED": ProviderStatus.ACTIVE,
    "SUBSCRIPTION_STATE_IN_GRACE_PERIOD": ProviderStatus.IN_GRACE,
    "SUBSCRIPTION_STATE_ON_HOLD": ProviderStatus.ON_HOLD,
    "SUBSCRIPTION_STATE_PAUSED": ProviderStatus.PAUSED,
    "SUBSCRIPTION_STATE_EXPIRED": ProviderStatus.EXPIRED,
}
_FRACTION = re.compile(r"\.(\d{6})\d+")


def rfc3339(value: Any, name: str) -> datetime | None:
    """Google's Timestamp JSON ("2024-08-25T23:26:40.123456789Z"); nanoseconds truncated."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"{name} is not a timestamp: {value!r}")
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r".\1", value.strip()))
    except ValueError as exc:
        raise MappingError(f"{name} is not a timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        raise MappingError(f"{name} has no time zone: {value!r}")
    return parsed.astimezone(UTC)


def _churn(context: Mapping[str, Any] | None) -> tuple[str | None, ChurnType | None]:
    """Reason and churn type from ``canceledStateContext`` (the churn vocabulary)."""
    if not context:
        return None, None
    try:
        from refrain.churn.reasons import google_play_canceled_state
    except ImportError:  # pragma: no cover - the churn package ships with this one
        return "other", None
    found = google_play_canceled_state(context)
    kind = ChurnType(found.churn_type.value) if found.churn_type is not None else None
    return found.reason.value, kind


def normalise_play(
    push: PlayPush, purchases: PlayPurchases, catalog: Catalog, config: PlayConfig
) -> ProviderEvent:
    """Map one verified push; fetches the purchase (the source of truth) when it matters."""
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "event_id": push.message_id,
        "event_type": push.type_name(),
        "occurred_at": push.event_time,
    }
    kind = push.kind
    if kind == "testNotification":
        return ProviderEvent(**base, ignored="test notification")
    if kind not in ("subscriptionNotification", "voidedPurchaseNotification"):
        return ProviderEvent(**base, ignored=f"{kind} is not a subscription notification")
    body = push.notification[kind]
    token = body.get("purchaseToken")
    if not isinstance(token, str) or not token:
        raise MappingError(f"{kind} has no purchaseToken")
    subject = Subject(subscription_id=subscription_id_for(PROVIDER, token))
    voided = kind == "voidedPurchaseNotification"
    if voided and body.get("productType") != PLAY_SUBSCRIPTION_PRODUCT:
        return ProviderEvent(**base, ignored="voided purchase of a one-time product")
    type_ = body.get("notificationType")
    if type_ == PlayNotificationType.SUBSCRIPTION_PENDING_PURCHASE_CANCELED:
        return ProviderEvent(**base, subject=subject, ignored="pending purchase never completed")
    purchase = purchases.get_subscription(push.package_name, token)
    revoked = type_ == PlayNotificationType.SUBSCRIPTION_REVOKED
    state = str(purchase.get("subscriptionState"))
    if voided:
        if state != "SUBSCRIPTION_STATE_EXPIRED":
            return ProviderEvent(
                **base, subject=subject, ignored=f"voided order; subscription still {state}"
            )
        revoked = True
    if type_ in _PRICE_CHANGES:
        notice = _price_change(base, purchase, catalog, config)
        if notice is not None:
            return ProviderEvent(**base, subject=subject, input=notice)
    return purchase_event(base, subject, purchase, catalog, config, revoked=revoked)


_PRICE_CHANGES = (
    PlayNotificationType.SUBSCRIPTION_PRICE_CHANGE_CONFIRMED,
    PlayNotificationType.SUBSCRIPTION_PRICE_CHANGE_UPDATED,
)


def _price_change(
    base: dict[str, Any], purchase: Mapping[str, Any], catalog: Catalog, config: PlayConfig
) -> PriceChangeNoticed | None:
    """An outstanding or confirmed price change (refrain.providers.store_prices), else None."""
    items = purchase.get("lineItems") or []
    product = items[0].get("productId") if items and isinstance(items[0], dict) else None
    try:
        plan = catalog.offer(config.product_plans.get(str(product), str(product)),
                             str(purchase.get("regionCode"))).plan.id  # fmt: skip
    except DomainError as exc:
        raise MappingError(f"Play product {product!r} is not in the catalog: {exc}") from exc
    return play_price_change(
        message_id=base["event_id"], occurred_at=base["occurred_at"], purchase=purchase, plan=plan
    )


def purchase_event(
    base: dict[str, Any],
    subject: Subject,
    purchase: Mapping[str, Any],
    catalog: Catalog,
    config: PlayConfig,
    *,
    revoked: bool = False,
) -> ProviderEvent:
    """A SubscriptionPurchaseV2 → the state report (plan and market from the purchase)."""
    state = str(purchase.get("subscriptionState"))
    reported = ProviderStatus.REVOKED if revoked else _STATES.get(state)
    if reported is None:
        return ProviderEvent(**base, subject=subject, ignored=f"{state} is not mirrored")
    items = purchase.get("lineItems") or []
    line = items[0] if items and isinstance(items[0], dict) else {}
    product = line.get("productId")
    if not isinstance(product, str) or not product:
        raise MappingError("purchase has no lineItems[].productId")
    plan_id = config.product_plans.get(product, product)
    market = purchase.get("regionCode")
    try:
        offer = catalog.offer(plan_id, str(market))
    except DomainError as exc:
        raise MappingError(
            f"Play product {product!r} in region {market!r} is not in the catalog: {exc}"
        ) from exc
    expiry = rfc3339(line.get("expiryTime"), "lineItems[].expiryTime")
    renewing = line.get("autoRenewingPlan") or {}
    auto_renew = bool(renewing.get("autoRenewEnabled")) if isinstance(renewing, dict) else False
    reason, churn = _churn(purchase.get("canceledStateContext"))
    until = expiry
    if reported is ProviderStatus.ON_HOLD:
        until = expiry + timedelta(days=config.hold_days) if expiry else None
    elif reported is ProviderStatus.PAUSED:
        paused = purchase.get("pausedStateContext") or {}
        until = rfc3339(paused.get("autoResumeTime"), "pausedStateContext.autoResumeTime")
    elif reported is ProviderStatus.REVOKED:
        reason, churn = "refunded", ChurnType.REVOKED
    cancel_at_end = reported is ProviderStatus.ACTIVE and (
        state == "SUBSCRIPTION_STATE_CANCELED" or not auto_renew
    )
    account = (purchase.get("externalAccountIdentifiers") or {}).get("obfuscatedExternalAccountId")
    draft = (
        SubscriptionDraft(
            account_id=str(account),
            provider=PROVIDER,
            billing_mode=BillingMode.PROVIDER_MANAGED,
            plan=offer.plan.id,
            market=offer.market.code,
        )
        if account
        else None
    )
    order = purchase.get("latestOrderId")
    try:
        report = ProviderStateReported(
            input_id=base["event_id"],
            occurred_at=base["occurred_at"],
            status=reported,
            until=until,
            cancel_at_period_end=cancel_at_end,
            in_trial=isinstance((line.get("offerPhase") or {}).get("freeTrial"), dict),
            plan=offer.plan.id,
            plan_rank=offer.plan.rank,
            price=offer.price,
            churn_type=churn if reported is not ProviderStatus.ACTIVE else None,
            cancel_reason=reason if cancel_at_end or reported in _ENDED else None,
        )
    except InvalidInput as exc:
        raise MappingError(f"{base['event_type']}: {exc}") from exc
    return ProviderEvent(
        **base,
        subject=subject,
        input=report,
        draft=draft,
        account_id=str(account) if account else None,
        refs=(f"{PROVIDER}:{order}",) if isinstance(order, str) and order else (),
    )


_ENDED = (ProviderStatus.EXPIRED, ProviderStatus.REVOKED)
