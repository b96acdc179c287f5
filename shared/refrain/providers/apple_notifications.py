"""App Store Server Notifications V2 (verified, decoded) → one state report.

Subscription id: ``subscription_id_for("apple", originalTransactionId)``;
account: the transaction's ``appAccountToken``; plan from ``productId``
(a configured mapping, else the same id); market from the ``storefront``
(ISO 3166 alpha-3). Dedupe key: ``notificationUUID``. Event time: the
notification's ``signedDate``, so an older notification delivered after a
newer one is stale and changes nothing.

=====================================  =========================================
type (subtype)                         report
=====================================  =========================================
SUBSCRIBED (INITIAL_BUY, RESUBSCRIBE)  active until ``expiresDate`` (trial when
DID_RENEW (incl. BILLING_RECOVERY)     the offer is a free trial); cancel at
OFFER_REDEEMED, RENEWAL_EXTENDED,      period end when ``autoRenewStatus`` is 0
DID_CHANGE_RENEWAL_PREF, REFUND_...    (a plan change shows in ``productId``)
  REVERSED                             — all "the current state", derived
                                       from transaction + renewal info
DID_CHANGE_RENEWAL_STATUS              active; AUTO_RENEW_DISABLED → cancel at
                                       period end, AUTO_RENEW_ENABLED → reverted
                                       (in billing retry: in_grace / on_hold)
DID_FAIL_TO_RENEW (GRACE_PERIOD)       in_grace until ``gracePeriodExpiresDate``
DID_FAIL_TO_RENEW (no subtype)         on_hold until expiry + billing-retry days
GRACE_PERIOD_EXPIRED                   on_hold until expiry + billing-retry days
EXPIRED (VOLUNTARY, BILLING_RETRY,     expired at ``expiresDate``; churn type
  PRICE_INCREASE, PRODUCT_NOT_FOR_SALE)  and reason from ``expirationIntent``
REFUND, REVOKE                         revoked (access ends now)
PRICE_INCREASE (PENDING, ACCEPTED)     a price change told, needing consent /
                                       consented (refrain.providers.store_prices)
TEST, REFUND_DECLINED,                 ignored (recorded)
  CONSUMPTION_REQUEST, RENEWAL_EXTENSION,
  ONE_TIME_CHARGE, EXTERNAL_PURCHASE_TOKEN, METADATA_UPDATE, MIGRATION, ...
=====================================  =========================================

No notification emits ``invoice.paid``: Apple is merchant of record and
sends the receipts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from refrain.domain.catalog import Catalog
from refrain.domain.errors import DomainError, InvalidInput, ProviderAmountError
from refrain.domain.inputs import ProviderStateReported, ProviderStatus
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
from refrain.providers.store_prices import apple_price_increase

PROVIDER = "apple"

# App Store storefronts (alpha-3) for the markets we sell in → our market codes.
STOREFRONTS: dict[str, str] = {
    "SWE": "SE", "NOR": "NO", "DEU": "DE", "FRA": "FR", "ESP": "ES", "ITA": "IT",
    "NLD": "NL", "POL": "PL", "GBR": "GB", "CHE": "CH", "USA": "US", "CAN": "CA",
    "CHL": "CL", "JPN": "JP", "KOR": "KR", "IND": "IN", "BRA": "BR", "MEX": "MX",
    "KWT": "KW", "AUS": "AU", "DNK": "DK", "FIN": "FI", "AUT": "AT", "BEL": "BE",
    "IRL": "IE", "PRT": "PT", "NZL": "NZ",
}  # fmt: skip

_CURRENT_STATE = frozenset(
    {
        "SUBSCRIBED",
        "DID_RENEW",
        "OFFER_REDEEMED",
        "RENEWAL_EXTENDED",
        "DID_CHANGE_RENEWAL_PREF",
        "DID_CHANGE_RENEWAL_STATUS",
        "REFUND_REVERSED",
    }
)
# The subtype of an EXPIRED notification, when renewal info has no expirationIntent.
_EXPIRED_SUBTYPE = {"VOLUNTARY": 1, "BILLING_RETRY": 2, "PRICE_INCREASE": 3,
                    "PRODUCT_NOT_FOR_SALE": 4}  # fmt: skip


@dataclass(frozen=True, slots=True)
class AppleConfig:
    product_plans: Mapping[str, str] = field(default_factory=dict)
    billing_retry_days: int = 60


def _ms(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MappingError(f"{name} is not a millisecond timestamp: {value!r}")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _churn(intent: Any) -> tuple[str | None, ChurnType | None]:
    try:
        from refrain.churn.reasons import apple_expiration_intent
    except ImportError:  # pragma: no cover - the churn package ships with this one
        return None, None
    found = apple_expiration_intent(intent)
    kind = ChurnType(found.churn_type.value) if found.churn_type is not None else None
    return found.reason.value, kind


def normalise_apple(
    decoded: Mapping[str, Any], catalog: Catalog, config: AppleConfig
) -> ProviderEvent:
    """Map one verified notification (``{"notification", "transaction", "renewal"}``)."""
    note = decoded.get("notification") or {}
    uuid, type_ = note.get("notificationUUID"), note.get("notificationType")
    if not isinstance(uuid, str) or not uuid or not isinstance(type_, str):
        raise MappingError("notification has no notificationUUID or notificationType")
    subtype = note.get("subtype")
    signed = _ms(note.get("signedDate"), "signedDate")
    if signed is None:
        raise MappingError("notification has no signedDate")
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "event_id": uuid,
        "event_type": f"{type_}.{subtype}" if subtype else type_,
        "occurred_at": signed,
    }
    txn: dict[str, Any] = decoded.get("transaction") or {}
    renewal: dict[str, Any] = decoded.get("renewal") or {}
    if type_ == "TEST":
        return ProviderEvent(**base, ignored="test notification")
    handled = _CURRENT_STATE | {"DID_FAIL_TO_RENEW", "GRACE_PERIOD_EXPIRED", "EXPIRED"}
    handled |= {"REFUND", "REVOKE", "PRICE_INCREASE"}
    if type_ not in handled:
        return ProviderEvent(**base, ignored=f"{type_} does not change the subscription")
    original = txn.get("originalTransactionId") or renewal.get("originalTransactionId")
    if not original:
        raise MappingError(f"{type_} carries no originalTransactionId")
    subject = Subject(subscription_id=subscription_id_for(PROVIDER, str(original)))
    if txn.get("type") not in (None, "Auto-Renewable Subscription"):
        return ProviderEvent(**base, subject=subject, ignored=f"{txn.get('type')} is not a plan")
    product = txn.get("productId")
    if not isinstance(product, str) or not product:
        raise MappingError(f"{type_} has no transaction productId")
    plan_id = config.product_plans.get(product, product)
    storefront = str(txn.get("storefront") or "")
    market = STOREFRONTS.get(storefront.upper())
    if market is None:
        raise MappingError(f"App Store storefront {storefront!r} is not one of our markets")
    try:
        offer = catalog.offer(plan_id, market)
    except DomainError as exc:
        raise MappingError(f"Apple product {product!r} in {market} is not sold: {exc}") from exc
    account = txn.get("appAccountToken") or renewal.get("appAccountToken")
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
    refs = (f"{PROVIDER}:{original}",)
    if type_ == "PRICE_INCREASE":  # notice and consent, as the store runs them
        found = apple_price_increase(
            uuid=uuid, subtype=subtype, signed=signed, renewal=renewal, plan=offer.plan.id
        )
        if isinstance(found, str):
            return ProviderEvent(**base, subject=subject, ignored=found)
        return ProviderEvent(**base, subject=subject, input=found, refs=refs)
    fields = _report_fields(
        type_, subtype=subtype, signed=signed, txn=txn, renewal=renewal, config=config
    )
    try:
        report = ProviderStateReported(
            input_id=uuid,
            occurred_at=signed,
            plan=offer.plan.id,
            plan_rank=offer.plan.rank,
            price=_store_price(txn, offer.price),
            **fields,
        )
    except InvalidInput as exc:
        raise MappingError(f"{base['event_type']}: {exc}") from exc
    return ProviderEvent(
        **base,
        subject=subject,
        input=report,
        draft=draft,
        account_id=str(account) if account else None,
        refs=refs,
    )


def _report_fields(
    type_: str,
    *,
    subtype: Any,
    signed: datetime,
    txn: Mapping[str, Any],
    renewal: Mapping[str, Any],
    config: AppleConfig,
) -> dict[str, Any]:
    """Status, dates and churn for one notification (see the module table)."""
    expires = _ms(txn.get("expiresDate"), "expiresDate")
    retry_until = expires + timedelta(days=config.billing_retry_days) if expires else None
    if type_ in ("REFUND", "REVOKE"):
        return {
            "status": ProviderStatus.REVOKED,
            "churn_type": ChurnType.REVOKED,
            "cancel_reason": "refunded" if type_ == "REFUND" else "other",
        }
    if type_ == "EXPIRED":
        intent = renewal.get("expirationIntent") or _EXPIRED_SUBTYPE.get(str(subtype))
        reason, churn = _churn(intent)
        return {
            "status": ProviderStatus.EXPIRED,
            "until": expires,
            "churn_type": churn,
            "cancel_reason": reason,
        }
    if type_ == "DID_FAIL_TO_RENEW" and subtype == "GRACE_PERIOD":
        grace = _ms(renewal.get("gracePeriodExpiresDate"), "gracePeriodExpiresDate")
        return {"status": ProviderStatus.IN_GRACE, "until": grace or expires}
    if type_ in ("DID_FAIL_TO_RENEW", "GRACE_PERIOD_EXPIRED"):
        return {"status": ProviderStatus.ON_HOLD, "until": retry_until}
    # the current state: renewing, retrying billing, or lapsed
    if renewal.get("isInBillingRetryPeriod"):
        grace = _ms(renewal.get("gracePeriodExpiresDate"), "gracePeriodExpiresDate")
        if grace is not None and grace > signed:
            return {"status": ProviderStatus.IN_GRACE, "until": grace}
        return {"status": ProviderStatus.ON_HOLD, "until": retry_until}
    if expires is None:
        raise MappingError(f"{type_} transaction has no expiresDate")
    if expires <= signed:
        reason, churn = _churn(renewal.get("expirationIntent"))
        return {"status": ProviderStatus.EXPIRED, "until": expires, "churn_type": churn,
                "cancel_reason": reason}  # fmt: skip
    cancel = renewal.get("autoRenewStatus") == 0
    if type_ == "DID_CHANGE_RENEWAL_STATUS" and subtype in ("AUTO_RENEW_DISABLED",
                                                            "AUTO_RENEW_ENABLED"):  # fmt: skip
        cancel = subtype == "AUTO_RENEW_DISABLED"
    return {
        "status": ProviderStatus.ACTIVE,
        "until": expires,
        "period_start": _ms(txn.get("purchaseDate"), "purchaseDate"),
        "in_trial": txn.get("offerDiscountType") == "FREE_TRIAL",
        "cancel_at_period_end": cancel,
        "cancel_reason": "customer_request" if cancel else None,
    }


def _store_price(txn: Mapping[str, Any], catalog_price: Money) -> Money:
    """What the App Store charges (the signed transaction's ``price``, in milliunits, and
    ``currency``), when it is stated in the market's currency; else the catalog price."""
    price, currency = txn.get("price"), txn.get("currency")
    if not isinstance(price, int) or isinstance(price, bool) or currency != catalog_price.currency:
        return catalog_price
    try:
        return from_provider_amount(price, currency, PROVIDER)
    except ProviderAmountError as exc:
        raise MappingError(f"App Store price {price} {currency}: {exc}") from exc
