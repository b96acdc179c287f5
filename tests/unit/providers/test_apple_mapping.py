"""Apple notification type/subtype → the state report the machine receives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from refrain.domain.catalog import load_catalog
from refrain.domain.inputs import ProviderStateReported, ProviderStatus
from refrain.domain.machine import apply
from refrain.domain.money import Money
from refrain.domain.outcome import OutcomeKind
from refrain.domain.subscription import ChurnType, State
from refrain.ingest.model import MappingError, ProviderEvent, subscription_id_for
from refrain.providers.apple_notifications import AppleConfig, normalise_apple
from refrain_tools.simulator.apple import apple_renewal, apple_transaction, ms
from tests.unit.providers.support import APPLE_FIXTURES

CATALOG = load_catalog()
CONFIG = AppleConfig()
SIGNED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START = SIGNED - timedelta(days=2)
END = SIGNED + timedelta(days=28)


def decoded(
    type_: str,
    subtype: str | None = None,
    *,
    txn: dict[str, Any] | None = None,
    renewal: dict[str, Any] | None = None,
    signed: datetime = SIGNED,
    uuid: str = "n-1",
) -> dict[str, Any]:
    note: dict[str, Any] = {
        "notificationType": type_,
        "notificationUUID": uuid,
        "signedDate": ms(signed),
        "data": {},
    }
    if subtype:
        note["subtype"] = subtype
    return {
        "notification": note,
        "transaction": txn if txn is not None else apple_transaction(purchased=START, expires=END),
        "renewal": renewal if renewal is not None else apple_renewal(),
    }


def report(event: ProviderEvent) -> ProviderStateReported:
    assert isinstance(event.input, ProviderStateReported), event
    return event.input


@pytest.mark.parametrize(
    ("type_", "subtype", "renewal", "status", "cancel"),
    [
        ("SUBSCRIBED", "INITIAL_BUY", {}, ProviderStatus.ACTIVE, False),
        ("SUBSCRIBED", "RESUBSCRIBE", {}, ProviderStatus.ACTIVE, False),
        ("DID_RENEW", None, {}, ProviderStatus.ACTIVE, False),
        ("DID_RENEW", "BILLING_RECOVERY", {}, ProviderStatus.ACTIVE, False),
        (
            "DID_CHANGE_RENEWAL_STATUS",
            "AUTO_RENEW_DISABLED",
            {"autoRenewStatus": 0},
            ProviderStatus.ACTIVE,
            True,
        ),
        ("DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_ENABLED", {}, ProviderStatus.ACTIVE, False),
        ("DID_CHANGE_RENEWAL_PREF", "DOWNGRADE", {}, ProviderStatus.ACTIVE, False),
        ("OFFER_REDEEMED", "UPGRADE", {}, ProviderStatus.ACTIVE, False),
        ("RENEWAL_EXTENDED", None, {}, ProviderStatus.ACTIVE, False),
        ("REFUND_REVERSED", None, {}, ProviderStatus.ACTIVE, False),
        (
            "DID_FAIL_TO_RENEW",
            "GRACE_PERIOD",
            {"isInBillingRetryPeriod": True, "gracePeriodExpiresDate": ms(END)},
            ProviderStatus.IN_GRACE,
            False,
        ),
        (
            "DID_FAIL_TO_RENEW",
            None,
            {"isInBillingRetryPeriod": True},
            ProviderStatus.ON_HOLD,
            False,
        ),
        (
            "GRACE_PERIOD_EXPIRED",
            None,
            {"isInBillingRetryPeriod": True},
            ProviderStatus.ON_HOLD,
            False,
        ),
        ("EXPIRED", "VOLUNTARY", {"expirationIntent": 1}, ProviderStatus.EXPIRED, False),
        ("REFUND", None, {}, ProviderStatus.REVOKED, False),
        ("REVOKE", None, {}, ProviderStatus.REVOKED, False),
    ],
)
def test_type_and_subtype_map_to_a_state_report(
    type_: str, subtype: str | None, renewal: dict[str, Any], status: ProviderStatus, cancel: bool
) -> None:
    event = normalise_apple(
        decoded(type_, subtype, renewal=apple_renewal(**renewal)), CATALOG, CONFIG
    )
    got = report(event)
    assert (got.status, got.cancel_at_period_end) == (status, cancel)
    assert event.event_id == "n-1" and event.dedupe_key == "apple:n-1"
    assert event.subject is not None
    assert event.subject.subscription_id == subscription_id_for("apple", "2000000111")
    assert got.occurred_at == SIGNED and got.paid_amount is None  # Apple sends receipts
    # what the App Store charges, from the signed transaction (119000 milliunits of SEK)
    assert (got.plan, got.price) == ("individual_monthly", Money(11900, "SEK"))
    assert event.draft is not None and event.draft.market == "SE"
    assert event.draft.account_id == "7e3fb20b-4cdb-47cc-936d-99d65f608138"


def test_dates_follow_the_transaction_and_renewal_info() -> None:
    active = report(normalise_apple(decoded("DID_RENEW"), CATALOG, CONFIG))
    assert (active.period_start, active.until) == (START, END)
    grace_end = SIGNED + timedelta(days=6)
    grace = report(
        normalise_apple(
            decoded(
                "DID_FAIL_TO_RENEW",
                "GRACE_PERIOD",
                renewal=apple_renewal(gracePeriodExpiresDate=ms(grace_end)),
            ),
            CATALOG,
            CONFIG,
        )
    )
    assert grace.until == grace_end
    hold = report(normalise_apple(decoded("GRACE_PERIOD_EXPIRED"), CATALOG, CONFIG))
    assert hold.until == END + timedelta(days=60)
    expired = report(normalise_apple(decoded("EXPIRED", "VOLUNTARY"), CATALOG, CONFIG))
    assert expired.until == END


@pytest.mark.parametrize(
    ("subtype", "intent", "churn", "reason"),
    [
        ("VOLUNTARY", 1, ChurnType.VOLUNTARY, "customer_request"),
        ("BILLING_RETRY", 2, ChurnType.INVOLUNTARY, "billing_failure"),
        ("PRICE_INCREASE", 3, ChurnType.VOLUNTARY, "price_increase"),
        ("PRODUCT_NOT_FOR_SALE", 4, ChurnType.INVOLUNTARY, "product_unavailable"),
        ("BILLING_RETRY", None, ChurnType.INVOLUNTARY, "billing_failure"),  # from the subtype
    ],
)
def test_expiration_intent_feeds_the_churn_reason(
    subtype: str, intent: int | None, churn: ChurnType, reason: str
) -> None:
    renewal = apple_renewal(expirationIntent=intent) if intent else apple_renewal()
    got = report(normalise_apple(decoded("EXPIRED", subtype, renewal=renewal), CATALOG, CONFIG))
    assert (got.status, got.churn_type, got.cancel_reason) == (
        ProviderStatus.EXPIRED,
        churn,
        reason,
    )


def test_auto_renew_disabled_while_in_billing_retry_does_not_recover() -> None:
    renewal = apple_renewal(auto_renew=False, isInBillingRetryPeriod=True)
    got = report(
        normalise_apple(
            decoded("DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_DISABLED", renewal=renewal),
            CATALOG,
            CONFIG,
        )
    )
    assert got.status is ProviderStatus.ON_HOLD


def test_free_trial_and_plan_mapping() -> None:
    txn = apple_transaction(
        purchased=START,
        expires=END,
        product="com.refrain.family.yearly",
        offerType=1,
        offerDiscountType="FREE_TRIAL",
    )
    config = AppleConfig(product_plans={"com.refrain.family.yearly": "family_yearly"})
    got = report(normalise_apple(decoded("SUBSCRIBED", "INITIAL_BUY", txn=txn), CATALOG, config))
    assert got.in_trial and got.plan == "family_yearly"


@pytest.mark.parametrize(
    "type_",
    [
        "TEST",
        "PRICE_INCREASE",
        "REFUND_DECLINED",
        "CONSUMPTION_REQUEST",
        "RENEWAL_EXTENSION",
        "ONE_TIME_CHARGE",
        "METADATA_UPDATE",
        "SOMETHING_NEW",
    ],
)
def test_notifications_that_change_nothing_are_recorded_as_ignored(type_: str) -> None:
    event = normalise_apple(decoded(type_), CATALOG, CONFIG)
    assert event.input is None and event.ignored


@pytest.mark.parametrize(
    ("txn_changes", "match"),
    [
        ({"storefront": "ATA"}, "storefront"),
        ({"productId": "com.unknown.product"}, "not sold"),
        ({"originalTransactionId": None}, "originalTransactionId"),
        ({"expiresDate": "tomorrow"}, "expiresDate"),
    ],
)
def test_unmappable_notifications_say_why(txn_changes: dict[str, Any], match: str) -> None:
    txn = apple_transaction(purchased=START, expires=END)
    txn.update(txn_changes)
    renewal = apple_renewal()
    renewal.pop("originalTransactionId")
    with pytest.raises(MappingError, match=match):
        normalise_apple(decoded("DID_RENEW", txn=txn, renewal=renewal), CATALOG, CONFIG)
    with pytest.raises(MappingError):
        normalise_apple({"notification": {"notificationType": "DID_RENEW"}}, CATALOG, CONFIG)


def test_no_app_account_token_means_no_draft() -> None:
    txn = apple_transaction(purchased=START, expires=END, account=None)
    event = normalise_apple(decoded("DID_RENEW", txn=txn), CATALOG, CONFIG)
    assert event.draft is None and event.input is not None


def test_apple_sample_payloads_map() -> None:
    """Apple's own decoded samples (bundle com.example, storefront USA)."""

    def load(name: str) -> Any:
        return json.loads((APPLE_FIXTURES / "decoded_payloads" / name).read_text())

    payload = {
        "notification": load("signedNotification.json"),
        "transaction": load("signedTransaction.json"),
        "renewal": load("signedRenewalInfo.json"),
    }
    config = AppleConfig(product_plans={"com.example.product": "individual_monthly"})
    event = normalise_apple(payload, CATALOG, config)
    got = report(event)
    assert event.event_type == "SUBSCRIBED.INITIAL_BUY"
    assert event.draft is not None and event.draft.market == "US"
    # the sample renewal info is in billing retry with its grace already over: on hold
    assert got.status is ProviderStatus.ON_HOLD
    summary = {"notification": load("signedSummaryNotification.json")}
    assert normalise_apple(summary, CATALOG, config).ignored


def test_machine_refuses_an_older_notification_after_a_newer_one() -> None:
    first = normalise_apple(decoded("SUBSCRIBED", "INITIAL_BUY", uuid="a"), CATALOG, CONFIG)
    assert first.draft is not None and first.subject is not None
    offer = CATALOG.offer("individual_monthly", "SE")
    from refrain.domain.subscription import Subscription

    sub = Subscription.new(
        subscription_id=str(first.subject.subscription_id),
        account_id=first.draft.account_id,
        provider="apple",
        billing_mode=first.draft.billing_mode,
        plan=offer.plan.id,
        plan_rank=offer.plan.rank,
        interval_months=1,
        market="SE",
        price=offer.price,
        created_at=START,
    )
    now = SIGNED + timedelta(hours=2)
    sub = apply(sub, report(first), now).subscription
    later = decoded(
        "DID_FAIL_TO_RENEW",
        renewal=apple_renewal(isInBillingRetryPeriod=True),
        signed=SIGNED + timedelta(hours=1),
        uuid="c",
    )
    on_hold = apply(sub, report(normalise_apple(later, CATALOG, CONFIG)), now)
    assert on_hold.subscription.state is State.ON_HOLD
    older = normalise_apple(
        decoded("DID_RENEW", signed=SIGNED + timedelta(minutes=30), uuid="b"), CATALOG, CONFIG
    )
    stale = apply(on_hold.subscription, report(older), now)
    assert stale.kind is OutcomeKind.STALE and stale.subscription.state is State.ON_HOLD


def test_the_price_is_what_the_store_charged_in_the_market_currency() -> None:
    def price_of(**txn: Any) -> Money:
        tx = apple_transaction(purchased=START, expires=END, **txn)
        return report(normalise_apple(decoded("DID_RENEW", txn=tx), CATALOG, CONFIG)).price  # type: ignore[return-value]

    assert price_of(price=129000) == Money(12900, "SEK")
    assert price_of(price=12900, currency="USD") == CATALOG.price("individual_monthly", "SE")
    assert price_of(price=None) == CATALOG.price("individual_monthly", "SE")
    with pytest.raises(MappingError, match="not a whole number"):
        price_of(price=129005)  # half an öre
