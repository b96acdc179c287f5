"""POST /apple end to end: library verification, ledger, duplicates, reordering, rejections."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from refrain.domain.events import EventType
from refrain.ingest.model import subscription_id_for
from refrain_tools.simulator.apple import (
    apple_notification,
    apple_pki,
    apple_renewal,
    apple_transaction,
)
from tests.integration.ingest.conftest import pull_events
from tests.integration.providers.conftest import Stores
from tests.unit.providers.support import APPLE_FIXTURES

NOW = datetime.now(UTC).replace(microsecond=0)
ORIGINAL = "2000000555"
SUB_ID = subscription_id_for("apple", ORIGINAL)
START = NOW - timedelta(days=20)
END = NOW + timedelta(days=10)


def txn(**kwargs: Any) -> dict[str, Any]:
    return apple_transaction(ORIGINAL, purchased=START, expires=END, **kwargs)


def renewal(**kwargs: Any) -> dict[str, Any]:
    return apple_renewal(ORIGINAL, **kwargs)


def at(minutes: int) -> datetime:
    return NOW - timedelta(hours=1) + timedelta(minutes=minutes)


def uuid_of(body: dict[str, Any]) -> str:
    from refrain.providers.apple_verify import decode_jws_payload

    return str(decode_jws_payload(body["signedPayload"])["notificationUUID"])


@pytest.mark.parametrize(
    "body",
    [
        apple_notification(
            "SUBSCRIBED", "INITIAL_BUY", signed=NOW, txn=txn(), bundle_id="com.someone.else"
        ),
        apple_notification(
            "SUBSCRIBED", "INITIAL_BUY", signed=NOW, txn=txn(), environment="Production"
        ),
        {"signedPayload": apple_pki().sign({"notificationType": "TEST"}, x5c=False)},
        {"signedPayload": (APPLE_FIXTURES / "signed_jws" / "missingX5CHeaderClaim").read_text()},
        {"signedPayload": (APPLE_FIXTURES / "signed_jws" / "wrongBundleId").read_text()},
        {"signedPayload": (APPLE_FIXTURES / "signed_jws" / "testNotification").read_text()},
    ],
    ids=[
        "wrong-bundle",
        "wrong-environment",
        "no-x5c",
        "fixture-no-x5c",
        "fixture-bundle",
        "untrusted-root",
    ],
)
def test_refused_notifications_write_nothing(stores: Stores, body: dict[str, Any]) -> None:
    answer = stores.post_apple(body)
    assert answer.status_code == 401, answer.data
    assert stores.documents() == []


def test_malformed_bodies_are_400_and_write_nothing(stores: Stores) -> None:
    assert stores.post_apple({"signedPayload": "abc"}).status_code == 400
    assert stores.post_apple(["x"]).status_code == 400
    answer = stores.client.post("/apple", data=b"{no", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert stores.documents() == []


def test_lifecycle_duplicates_and_reordering(stores: Stores) -> None:
    subscribed = apple_notification(
        "SUBSCRIBED", "INITIAL_BUY", signed=at(0), txn=txn(), renewal=renewal()
    )
    assert stores.post_apple(subscribed).status_code == 200
    sub = stores.subscription(SUB_ID)
    assert sub is not None
    assert (sub["state"], sub["plan"], sub["market"]) == ("active", "individual_monthly", "SE")
    assert sub["account_id"] == "7e3fb20b-4cdb-47cc-936d-99d65f608138"

    # the same notificationUUID again: one state change
    assert stores.post_apple(copy.deepcopy(subscribed)).status_code == 200

    disabled = apple_notification(
        "DID_CHANGE_RENEWAL_STATUS",
        "AUTO_RENEW_DISABLED",
        signed=at(10),
        txn=txn(),
        renewal=renewal(auto_renew=False),
    )
    assert stores.post_apple(disabled).status_code == 200
    assert stores.subscription(SUB_ID)["cancel_at_period_end"] is True  # type: ignore[index]
    enabled = apple_notification(
        "DID_CHANGE_RENEWAL_STATUS",
        "AUTO_RENEW_ENABLED",
        signed=at(20),
        txn=txn(),
        renewal=renewal(),
    )
    assert stores.post_apple(enabled).status_code == 200
    assert stores.subscription(SUB_ID)["cancel_at_period_end"] is False  # type: ignore[index]

    grace_end = NOW + timedelta(days=16)
    failed = apple_notification(
        "DID_FAIL_TO_RENEW",
        "GRACE_PERIOD",
        signed=at(40),
        txn=txn(),
        renewal=renewal(
            isInBillingRetryPeriod=True, gracePeriodExpiresDate=int(grace_end.timestamp() * 1000)
        ),
    )
    assert stores.post_apple(failed).status_code == 200
    assert stores.subscription(SUB_ID)["state"] == "past_due"  # type: ignore[index]

    # a DID_RENEW signed before the failure, delivered after it: stale, no regression
    late = apple_notification("DID_RENEW", signed=at(30), txn=txn(), renewal=renewal())
    assert stores.post_apple(late).status_code == 200
    assert stores.outbox()[f"apple:{uuid_of(late)}"]["status"] == "stale"
    assert stores.subscription(SUB_ID)["state"] == "past_due"  # type: ignore[index]

    expired = apple_notification(
        "EXPIRED",
        "BILLING_RETRY",
        signed=at(50),
        txn=txn(),
        renewal=renewal(expirationIntent=2, autoRenewStatus=0),
    )
    assert stores.post_apple(expired).status_code == 200
    sub = stores.subscription(SUB_ID)
    assert sub is not None and sub["state"] == "expired"
    assert (sub["churn_type"], sub["cancel_reason"]) == ("involuntary", "billing_failure")

    statuses = sorted(v["status"] for v in stores.outbox().values())
    assert statuses == ["applied"] * 5 + ["stale"]
    types = [e.type for e in pull_events(stores.settings, want=5)]
    for wanted in (
        EventType.ACTIVATED,
        EventType.CANCEL_REQUESTED,
        EventType.CANCEL_REVERTED,
        EventType.PAST_DUE,
        EventType.EXPIRED,
    ):
        assert types.count(wanted) == 1, (wanted, types)
    assert EventType.INVOICE_PAID not in types


def test_test_notification_is_acknowledged_and_recorded(stores: Stores) -> None:
    test = apple_notification("TEST", signed=NOW)
    assert stores.post_apple(test).status_code == 200
    assert stores.outbox()[f"apple:{uuid_of(test)}"]["status"] == "ignored"


def test_unknown_storefront_is_acknowledged_and_parked_for_an_operator(stores: Stores) -> None:
    body = apple_notification("SUBSCRIBED", "INITIAL_BUY", signed=NOW, txn=txn(storefront="ATA"))
    answer = stores.post_apple(body)
    assert answer.status_code == 200  # authentic: stored and acknowledged, never retried
    assert stores.subscription(SUB_ID) is None and stores.outbox() == {}
    [parked] = stores.parked()
    assert parked["waits_for"] is None and "ATA" in parked["reason"]
