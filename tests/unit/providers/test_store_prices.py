"""App Store PRICE_INCREASE and Play priceChangeDetails → the same notice / consent input.

The Apple payloads are built with app-store-server-library's own models and serialised
by its converter (the wire names it reads back); the Play purchases follow
SubscriptionPurchaseV2 / SubscriptionItemPriceChangeDetails of the Android Publisher API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from appstoreserverlibrary.models.Data import Data
from appstoreserverlibrary.models.Environment import Environment
from appstoreserverlibrary.models.JWSRenewalInfoDecodedPayload import (
    JWSRenewalInfoDecodedPayload,
)
from appstoreserverlibrary.models.LibraryUtility import _get_cattrs_converter
from appstoreserverlibrary.models.NotificationTypeV2 import NotificationTypeV2
from appstoreserverlibrary.models.PriceIncreaseStatus import PriceIncreaseStatus
from appstoreserverlibrary.models.ResponseBodyV2DecodedPayload import (
    ResponseBodyV2DecodedPayload,
)
from appstoreserverlibrary.models.Subtype import Subtype

from refrain.domain.catalog import load_catalog
from refrain.domain.inputs import PriceChangeNoticed, ProviderStateReported, ProviderStatus
from refrain.domain.machine import apply
from refrain.domain.money import Money
from refrain.domain.subscription import BillingMode, Subscription
from refrain.ingest.model import MappingError
from refrain.providers.apple_notifications import AppleConfig, normalise_apple
from refrain.providers.google_play_mapping import PlayConfig, normalise_play
from refrain.providers.google_play_rtdn import PlayNotificationType, decode_push
from refrain_tools.simulator.apple import apple_transaction, ms
from refrain_tools.simulator.google_play import play_envelope, play_notification, play_purchase

CATALOG = load_catalog()
SIGNED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RENEWS = SIGNED + timedelta(days=20)


def wire(model: Any) -> dict[str, Any]:
    converter = _get_cattrs_converter(type(model))  # type: ignore[arg-type]  # the library's own
    out: dict[str, Any] = converter.unstructure(model)
    return out


def apple(subtype: Subtype, status: PriceIncreaseStatus, uuid: str = "n-1") -> dict[str, Any]:
    note = ResponseBodyV2DecodedPayload(
        notificationType=NotificationTypeV2.PRICE_INCREASE, subtype=subtype,
        notificationUUID=uuid, version="2.0", signedDate=ms(SIGNED),
        data=Data(environment=Environment.SANDBOX, bundleId="com.refrain.app"),
    )  # fmt: skip
    renewal = JWSRenewalInfoDecodedPayload(
        originalTransactionId="2000000111", autoRenewProductId="individual_monthly",
        productId="individual_monthly", priceIncreaseStatus=status, renewalPrice=149000,
        currency="SEK", renewalDate=ms(RENEWS), signedDate=ms(SIGNED),
        environment=Environment.SANDBOX,
    )  # fmt: skip
    txn = apple_transaction(purchased=SIGNED - timedelta(days=10), expires=RENEWS)
    return {"notification": wire(note), "transaction": txn, "renewal": wire(renewal)}


def test_the_library_models_serialise_to_the_fields_we_read() -> None:
    body = apple(Subtype.PENDING, PriceIncreaseStatus.CUSTOMER_HAS_NOT_RESPONDED)
    assert body["notification"]["notificationType"] == "PRICE_INCREASE"
    assert body["renewal"]["priceIncreaseStatus"] == 0
    assert {"renewalPrice", "currency", "renewalDate"} <= body["renewal"].keys()


def test_pending_then_accepted_is_one_change_told_then_consented() -> None:
    pending = normalise_apple(
        apple(Subtype.PENDING, PriceIncreaseStatus.CUSTOMER_HAS_NOT_RESPONDED), CATALOG,
        AppleConfig(),
    )  # fmt: skip
    accepted = normalise_apple(
        apple(Subtype.ACCEPTED,
              PriceIncreaseStatus.CUSTOMER_CONSENTED_OR_WAS_NOTIFIED_WITHOUT_NEEDING_CONSENT,
              uuid="n-2"),
        CATALOG, AppleConfig(),
    )  # fmt: skip
    told, agreed = pending.input, accepted.input
    assert isinstance(told, PriceChangeNoticed) and isinstance(agreed, PriceChangeNoticed)
    assert told.new_price == Money(14900, "SEK") and told.applies_from == RENEWS
    assert (told.consent_required, told.consented) == (True, False)
    assert agreed.consented and agreed.change_id == told.change_id
    sub = store_sub("apple")
    sub = apply(sub, told, SIGNED).subscription
    out = apply(sub, agreed, SIGNED)
    assert out.applied and out.subscription.price_change.consented_at is not None  # type: ignore[union-attr]


def test_a_price_increase_without_a_renewal_price_is_recorded_as_ignored() -> None:
    body = apple(Subtype.PENDING, PriceIncreaseStatus.CUSTOMER_HAS_NOT_RESPONDED)
    del body["renewal"]["renewalPrice"]
    event = normalise_apple(body, CATALOG, AppleConfig())
    assert event.input is None and "renewalPrice" in (event.ignored or "")


def store_sub(provider: str) -> Subscription:
    draft = Subscription.new(
        subscription_id=f"{provider}_1", account_id="acct", provider=provider,
        billing_mode=BillingMode.PROVIDER_MANAGED, plan="individual_monthly", plan_rank=20,
        interval_months=1, market="SE", price=Money(13900, "SEK"), created_at=SIGNED,
    )  # fmt: skip
    report = ProviderStateReported(
        input_id="r", occurred_at=SIGNED, status=ProviderStatus.ACTIVE, until=RENEWS,
        period_start=SIGNED - timedelta(days=10),
    )  # fmt: skip
    out = apply(draft, report, SIGNED)
    assert out.applied, out.reason
    return out.subscription


class Purchases:
    def __init__(self, purchase: dict[str, Any]) -> None:
        self.purchase = purchase

    def get_subscription(self, package_name: str, purchase_token: str) -> dict[str, Any]:
        return self.purchase


def play(state: str, mode: str = "PRICE_INCREASE",
         type_: int = PlayNotificationType.SUBSCRIPTION_PRICE_CHANGE_UPDATED) -> Any:  # fmt: skip
    purchase = play_purchase(product="individual_monthly", expiry=RENEWS)
    purchase["lineItems"][0]["autoRenewingPlan"]["priceChangeDetails"] = {
        "newPrice": {"currencyCode": "SEK", "units": "149", "nanos": 0},
        "priceChangeMode": mode, "priceChangeState": state,
        "expectedNewPriceChargeTime": "2026-03-21T12:00:00.000Z",
    }  # fmt: skip
    push = decode_push(play_envelope(play_notification(type_, "tok-1", SIGNED), "m-1"))
    return normalise_play(push, Purchases(purchase), CATALOG, PlayConfig())


@pytest.mark.parametrize(
    ("state", "mode", "consent", "consented"),
    [
        ("OUTSTANDING", "PRICE_INCREASE", True, False),
        ("CONFIRMED", "PRICE_INCREASE", True, True),
        ("CONFIRMED", "OPT_OUT_PRICE_INCREASE", False, True),
    ],
)
def test_play_price_change_states_map_to_notice_and_consent(
    state: str, mode: str, consent: bool, consented: bool
) -> None:
    told = play(state, mode).input
    assert isinstance(told, PriceChangeNoticed)
    assert (told.consent_required, told.consented) == (consent, consented)
    assert told.new_price == Money(14900, "SEK") and told.applies_from == RENEWS


@pytest.mark.parametrize("state", ["APPLIED", "CANCELED"])
def test_applied_or_canceled_play_changes_report_the_state(state: str) -> None:
    assert isinstance(play(state).input, ProviderStateReported)


def test_a_play_price_that_is_not_exact_is_refused() -> None:
    purchase = play_purchase(product="individual_monthly", expiry=RENEWS)
    purchase["lineItems"][0]["autoRenewingPlan"]["priceChangeDetails"] = {
        "newPrice": {"currencyCode": "SEK", "units": "149", "nanos": 5_000_000},  # 149.005
        "priceChangeMode": "PRICE_INCREASE", "priceChangeState": "OUTSTANDING",
        "expectedNewPriceChargeTime": "2026-03-21T12:00:00Z",
    }  # fmt: skip
    type_ = PlayNotificationType.SUBSCRIPTION_PRICE_CHANGE_CONFIRMED
    push = decode_push(play_envelope(play_notification(type_, "tok-1", SIGNED), "m-1"))
    with pytest.raises(MappingError, match="newPrice"):
        normalise_play(push, Purchases(purchase), CATALOG, PlayConfig())
