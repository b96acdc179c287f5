"""The demo's Google Play and App Store subscribers: what each store sends, and when.

Google Play: an RTDN pushed through Pub/Sub (the webhook authenticates the
push's OIDC token, then reads the purchase from the local Android Publisher
stand-in, which answers what the store says from the notice's time on).
App Store: a Server Notification V2, signed by the demo's own test PKI.
The stories are those of :mod:`refrain_tools.demo.stores`; store product ids
map to catalog plans through the webhook's ``*_PRODUCT_PLANS`` settings.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from refrain.domain.catalog import Catalog
from refrain.domain.subscription import add_months
from refrain.providers.apple_notifications import STOREFRONTS
from refrain.providers.google_play_rtdn import PlayNotificationType as Play
from refrain_tools.demo.stores import (
    CANCEL_AFTER,
    RETRY_AFTER,
    StoreCustomer,
    StoreNotice,
    anniversaries,
    fail_at,
    stripe_billing_story,
)
from refrain_tools.simulator.apple import (
    APP_APPLE_ID,
    BUNDLE_ID,
    apple_notification,
    apple_renewal,
    apple_transaction,
    ms,
    store_price,
)
from refrain_tools.simulator.google_play import (
    PACKAGE,
    play_envelope,
    play_notification,
    play_purchase,
    rfc3339,
)

PLAY_GRACE = timedelta(days=7)
APPLE_GRACE = timedelta(days=16)
APPLE_ENVIRONMENT = "Sandbox"
# App Store storefront ids of the demo's markets (what a transaction's storefrontId says).
STOREFRONT_IDS = {
    "SE": "143456",
    "DE": "143443",
    "GB": "143444",
    "US": "143441",
    "JP": "143462",
    "BR": "143503",
    "KW": "143493",
    "FR": "143442",
    "MX": "143468",
    "IN": "143467",
}
_ALPHA3 = {market: alpha3 for alpha3, market in STOREFRONTS.items()}
_IDS = uuid.UUID("5d0c7a52-3f4e-4e55-9a43-6f1d2b7e8c01")  # namespace: reproducible ids


def play_product(plan: str) -> str:
    return f"refrain.{plan}"


def apple_product(plan: str) -> str:
    return f"{BUNDLE_ID}.{plan}"


def store_env(plans: tuple[str, ...]) -> dict[str, str]:
    """The webhook's store settings that do not depend on where the stand-ins listen."""
    return {
        "GOOGLE_PLAY_PACKAGE_NAMES": PACKAGE,
        "GOOGLE_PLAY_PRODUCT_PLANS": json.dumps({play_product(p): p for p in plans}),
        "APPLE_BUNDLE_ID": BUNDLE_ID,
        "APPLE_ENVIRONMENT": APPLE_ENVIRONMENT,
        "APPLE_APP_APPLE_ID": str(APP_APPLE_ID),
        "APPLE_ENABLE_ONLINE_CHECKS": "false",
        "APPLE_PRODUCT_PLANS": json.dumps({apple_product(p): p for p in plans}),
    }


# Google Play -------------------------------------------------------------------------


def play_token(customer: StoreCustomer) -> str:
    return f"play-demo-{customer.key}.AO-J1OxDEMOTOKEN"


def play_story(customer: StoreCustomer, until: datetime) -> list[StoreNotice]:
    """The RTDNs of one Play subscriber, each with the purchase the API answers then."""
    token, start = play_token(customer), customer.signed_up_at
    order = f"GPA.3300-0000-0000-{customer.index:05d}"
    out: list[StoreNotice] = []

    def notify(at: datetime, kind: Play, state: str, expiry: datetime, **extra: Any) -> None:
        message_id = str(uuid.uuid5(_IDS, f"play:{customer.key}:{len(out)}").int % 10**12)
        purchase = play_purchase(
            f"SUBSCRIPTION_STATE_{state}",
            expiry=expiry,
            product=play_product(customer.plan),
            region=customer.market,
            account=f"acct_play_demo_{customer.key}",
            started=start,
            order=order if not out else f"{order}..{len(out) - 1}",
            **extra,
        )
        envelope = play_envelope(play_notification(kind, token, at), message_id, published=at)
        out.append(
            StoreNotice(
                at,
                "google_play",
                envelope,
                message_id,
                kind.name,
                purchase=(PACKAGE, token, purchase),
            )
        )

    notify(start, Play.SUBSCRIPTION_PURCHASED, "ACTIVE", add_months(start, 1))
    if customer.story == "cancels":
        cancelled = start + CANCEL_AFTER
        context = {
            "userInitiatedCancellation": {
                "cancelSurveyResult": {"reason": "CANCEL_SURVEY_REASON_NOT_ENOUGH_USAGE"},
                "cancelTime": rfc3339(cancelled),
            }
        }
        ends = add_months(start, 1)
        for at, kind, state in (
            (cancelled, Play.SUBSCRIPTION_CANCELED, "CANCELED"),
            (ends, Play.SUBSCRIPTION_EXPIRED, "EXPIRED"),
        ):
            notify(at, kind, state, ends, auto_renew=False, canceledStateContext=context)
        return out
    renewals = anniversaries(customer, until)
    failing = fail_at(customer, renewals)
    for at in renewals:
        if at != failing:
            notify(at, Play.SUBSCRIPTION_RENEWED, "ACTIVE", add_months(at, 1))
            continue
        # Play extends expiryTime over the grace period while it retries the payment.
        notify(at, Play.SUBSCRIPTION_IN_GRACE_PERIOD, "IN_GRACE_PERIOD", at + PLAY_GRACE)
        if customer.story == "fails":
            notify(at + PLAY_GRACE, Play.SUBSCRIPTION_ON_HOLD, "ON_HOLD", at + PLAY_GRACE)
            break
        recovered = at + RETRY_AFTER
        notify(recovered, Play.SUBSCRIPTION_RECOVERED, "ACTIVE", add_months(at, 1))
    return out


# App Store ---------------------------------------------------------------------------


def apple_original(customer: StoreCustomer) -> str:
    return f"2000000{customer.index:06d}"


def apple_story(customer: StoreCustomer, catalog: Catalog, until: datetime) -> list[StoreNotice]:
    """The App Store Server Notifications of one App Store subscriber."""
    original, start = apple_original(customer), customer.signed_up_at
    product = apple_product(customer.plan)
    account = str(uuid.uuid5(_IDS, f"apple-account:{customer.key}"))
    out: list[StoreNotice] = []

    def txn(purchased: datetime, expires: datetime, reason: str) -> dict[str, Any]:
        return apple_transaction(
            original,
            product=product,
            purchased=purchased,
            expires=expires,
            storefront=_ALPHA3[customer.market],
            account=account,
            environment=APPLE_ENVIRONMENT,
            original_purchase=start,
            transactionReason=reason,
            storefrontId=STOREFRONT_IDS[customer.market],
            **store_price(catalog.price(customer.plan, customer.market)),
        )

    def notify(
        at: datetime,
        kind: str,
        subtype: str | None,
        transaction: dict[str, Any],
        *,
        status: int = 1,
        auto_renew: bool = True,
        **renewal: Any,
    ) -> None:
        note_id = str(uuid.uuid5(_IDS, f"apple:{customer.key}:{len(out)}"))
        info = apple_renewal(
            original,
            auto_renew=auto_renew,
            environment=APPLE_ENVIRONMENT,
            product=product,
            signed=at,
            **renewal,
        )
        body = apple_notification(
            kind,
            subtype,
            signed=at,
            txn=transaction,
            renewal=info,
            notification_uuid=note_id,
            environment=APPLE_ENVIRONMENT,
            status=status,
        )
        name = f"{kind}.{subtype}" if subtype else kind
        out.append(StoreNotice(at, "apple", body, note_id, name))

    current = txn(start, add_months(start, 1), "PURCHASE")
    notify(start, "SUBSCRIBED", "INITIAL_BUY", current)
    if customer.story == "cancels":
        ends = add_months(start, 1)
        notify(
            start + CANCEL_AFTER,
            "DID_CHANGE_RENEWAL_STATUS",
            "AUTO_RENEW_DISABLED",
            current,
            auto_renew=False,
        )
        notify(
            ends, "EXPIRED", "VOLUNTARY", current, status=2, auto_renew=False, expirationIntent=1
        )
        return out
    renewals = anniversaries(customer, until)
    failing = fail_at(customer, renewals)
    for at in renewals:
        if at != failing:
            current = txn(at, add_months(at, 1), "RENEWAL")
            notify(at, "DID_RENEW", None, current)
            continue
        if customer.story == "fails":  # no grace period: straight into billing retry
            notify(at, "DID_FAIL_TO_RENEW", None, current, status=3, isInBillingRetryPeriod=True)
            break
        notify(
            at,
            "DID_FAIL_TO_RENEW",
            "GRACE_PERIOD",
            current,
            status=4,
            isInBillingRetryPeriod=True,
            gracePeriodExpiresDate=ms(at + APPLE_GRACE),
        )
        # Recovered within the grace period: the renewal date stays where it was.
        current = txn(at + RETRY_AFTER, add_months(at, 1), "RENEWAL")
        notify(at + RETRY_AFTER, "DID_RENEW", "BILLING_RECOVERY", current)
    return out


def store_notices(
    customers: list[StoreCustomer], catalog: Catalog, until: datetime
) -> list[StoreNotice]:
    """Every provider-managed subscriber's notifications up to ``until``, in time order."""
    out: list[StoreNotice] = []
    for customer in customers:
        if customer.provider == "stripe_billing":
            out += stripe_billing_story(customer, catalog, until)
        elif customer.provider == "google_play":
            out += play_story(customer, until)
        else:
            out += apple_story(customer, catalog, until)
    return sorted((n for n in out if n.at <= until), key=lambda n: n.at)
