"""POST /google-play end to end: OIDC push auth, Android Publisher lookup, ledger, events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from refrain.adapters.play_purchases import AndroidPublisherPurchases, PlayApiError
from refrain.domain.events import EventType
from refrain.ingest.model import subscription_id_for
from refrain.providers.google_play_mapping import PurchaseNotFound
from refrain_tools.simulator.google_play import PACKAGE, google_signer, play_envelope, play_purchase
from refrain_tools.simulator.google_server import LocalGoogle
from tests.integration.ingest.conftest import pull_events
from tests.integration.providers.conftest import Stores
from tests.unit.providers.support import play_fixture

TOKEN = "fixture-purchase-token.AO-J1OxFIXTUREFIXTUREFIXTURE"
SUB_ID = subscription_id_for("google_play", TOKEN)
PERIOD_1 = datetime(2024, 8, 25, 23, 26, 40, tzinfo=UTC)
PERIOD_2 = datetime(2024, 9, 25, 23, 26, 40, tzinfo=UTC)


def api_says(stores: Stores, state: str, **kwargs: Any) -> None:
    stores.google.api.purchases[(PACKAGE, TOKEN)] = play_purchase(state, **kwargs)


def push(name: str) -> dict[str, Any]:
    return play_fixture(f"push_{name}.json")


def message_id(envelope: dict[str, Any]) -> str:
    return str(envelope["message"]["messageId"])


def test_adapter_reads_the_documented_endpoint(local_google: LocalGoogle) -> None:
    local_google.api.fail_with = None
    local_google.api.purchases[(PACKAGE, "tok/with+odd=chars")] = play_purchase()
    api = AndroidPublisherPurchases(base_url=local_google.base_url, anonymous=True)
    got = api.get_subscription(PACKAGE, "tok/with+odd=chars")
    assert got["subscriptionState"] == "SUBSCRIPTION_STATE_ACTIVE"
    assert local_google.api.requests[-1].endswith("/tokens/tok%2Fwith%2Bodd%3Dchars")
    with pytest.raises(PurchaseNotFound):
        api.get_subscription(PACKAGE, "unknown-token")
    local_google.api.fail_with = 500
    with pytest.raises(PlayApiError):
        api.get_subscription(PACKAGE, "tok/with+odd=chars")
    local_google.api.fail_with = None
    unreachable = AndroidPublisherPurchases(base_url="http://127.0.0.1:9", anonymous=True)
    with pytest.raises(PlayApiError):
        unreachable.get_subscription(PACKAGE, "t")


@pytest.mark.parametrize(
    ("token", "auth"),
    [
        (None, False),  # no Authorization header
        ("not-a-token", True),
        (google_signer().token(aud="https://someone-else.example/push"), True),
        (google_signer().token(email="attacker@evil.example"), True),
    ],
)
def test_unauthenticated_or_wrongly_audienced_pushes_write_nothing(
    stores: Stores, token: str | None, auth: bool
) -> None:
    api_says(stores, "SUBSCRIPTION_STATE_ACTIVE")
    answer = stores.post_play(push("04_SUBSCRIPTION_PURCHASED"), token=token, auth=auth)
    assert answer.status_code == 401
    assert stores.documents() == []
    assert stores.google.api.requests == []  # refused before anything else


def test_malformed_pushes_write_nothing_and_foreign_ones_are_recorded_ignored(
    stores: Stores,
) -> None:
    assert stores.post_play({"message": {"messageId": "1", "data": "%%"}}).status_code == 400
    assert stores.documents() == []
    foreign = play_envelope(
        {"packageName": "com.not.ours", "eventTimeMillis": "1", "testNotification": {}}, "9"
    )
    assert stores.post_play(foreign).status_code == 200  # another app's: acknowledged
    assert stores.outbox()["google_play:9"]["status"] == "ignored"
    assert stores.google.api.requests == []  # nothing asked of Google for it


def test_lifecycle_duplicates_and_reordering(stores: Stores) -> None:
    api_says(stores, "SUBSCRIPTION_STATE_ACTIVE", expiry=PERIOD_1)
    purchased = push("04_SUBSCRIPTION_PURCHASED")
    assert stores.post_play(purchased).status_code == 200
    sub = stores.subscription(SUB_ID)
    assert sub is not None
    assert (sub["state"], sub["plan"], sub["market"]) == ("active", "individual_monthly", "SE")
    assert (sub["billing_mode"], sub["account_id"]) == ("provider_managed", "acct_play_1")

    # Pub/Sub redelivers the same message: one state change
    assert stores.post_play(copy.deepcopy(purchased)).status_code == 200
    assert stores.outbox()[f"google_play:{message_id(purchased)}"]["status"] == "applied"

    api_says(stores, "SUBSCRIPTION_STATE_IN_GRACE_PERIOD", expiry=PERIOD_1)
    assert stores.post_play(push("06_SUBSCRIPTION_IN_GRACE_PERIOD")).status_code == 200
    assert stores.subscription(SUB_ID)["state"] == "past_due"  # type: ignore[index]

    # RENEWED (older event time) arrives after IN_GRACE: stale, no regression
    api_says(stores, "SUBSCRIPTION_STATE_ACTIVE", expiry=PERIOD_2)
    late = push("02_SUBSCRIPTION_RENEWED")
    assert stores.post_play(late).status_code == 200
    assert stores.outbox()[f"google_play:{message_id(late)}"]["status"] == "stale"
    assert stores.subscription(SUB_ID)["state"] == "past_due"  # type: ignore[index]

    api_says(stores, "SUBSCRIPTION_STATE_ON_HOLD", expiry=PERIOD_1)
    assert stores.post_play(push("05_SUBSCRIPTION_ON_HOLD")).status_code == 200
    assert stores.subscription(SUB_ID)["state"] == "on_hold"  # type: ignore[index]

    api_says(stores, "SUBSCRIPTION_STATE_ACTIVE", expiry=PERIOD_2)
    assert stores.post_play(push("01_SUBSCRIPTION_RECOVERED")).status_code == 200
    assert stores.subscription(SUB_ID)["state"] == "active"  # type: ignore[index]

    api_says(stores, "SUBSCRIPTION_STATE_EXPIRED", expiry=PERIOD_2)
    assert stores.post_play(push("12_SUBSCRIPTION_REVOKED")).status_code == 200
    sub = stores.subscription(SUB_ID)
    assert sub is not None and sub["state"] == "expired" and sub["churn_type"] == "revoked"

    statuses = {k: v["status"] for k, v in stores.outbox().items()}
    assert sorted(statuses.values()) == ["applied"] * 5 + ["stale"]
    types = [e.type for e in pull_events(stores.settings, want=6)]
    for wanted in (
        EventType.ACTIVATED,
        EventType.PAST_DUE,
        EventType.ON_HOLD,
        EventType.RECOVERED,
        EventType.EXPIRED,
    ):
        assert types.count(wanted) == 1, (wanted, types)
    assert EventType.INVOICE_PAID not in types  # the store is merchant of record
    audit = [d.to_dict() or {} for d in stores.db.collection("webhook_audit").stream()]
    assert len(audit) == 7 and {a["provider"] for a in audit} == {"google_play"}


def test_test_notification_is_acknowledged_and_recorded_as_ignored(stores: Stores) -> None:
    test = push("test_notification")
    assert stores.post_play(test).status_code == 200
    record = stores.outbox()[f"google_play:{message_id(test)}"]
    assert record["status"] == "ignored" and stores.google.api.requests == []


def test_an_api_outage_parks_the_push_and_the_sweep_applies_it(stores: Stores) -> None:
    """Stored, so acknowledged (invariant 9): no reliance on Pub/Sub's redelivery."""
    from refrain.bootstrap import build_webhook_service
    from refrain.ingest.parking import LONGEST_WAIT

    stores.google.api.fail_with = 503
    purchased = push("04_SUBSCRIPTION_PURCHASED")
    assert stores.post_play(purchased).status_code == 200
    assert stores.outbox() == {} and stores.subscription(SUB_ID) is None
    [parked] = stores.parked()
    assert parked["waits_for"] == "retry" and parked["next_check_at"] is not None
    service = build_webhook_service(stores.settings)
    later = datetime.now(UTC) + LONGEST_WAIT
    assert service.sweep_parked(later).applied == 0  # the API is still down: looked again later
    assert stores.subscription(SUB_ID) is None and len(stores.parked()) == 1
    stores.google.api.fail_with = None
    api_says(stores, "SUBSCRIPTION_STATE_ACTIVE", expiry=PERIOD_1)
    service.sweep_parked(later + LONGEST_WAIT)
    assert stores.subscription(SUB_ID)["state"] == "active"  # type: ignore[index]
    assert stores.parked() == []
    before = stores.outbox()
    assert stores.post_play(purchased).status_code == 200  # Pub/Sub's redelivery: nothing new
    assert stores.outbox().keys() == before.keys()


def test_unknown_product_or_token_is_acknowledged_and_parked(stores: Stores) -> None:
    api_says(stores, "SUBSCRIPTION_STATE_ACTIVE", product="gold_weekly")
    answer = stores.post_play(push("04_SUBSCRIPTION_PURCHASED"))
    assert answer.status_code == 200  # authentic: stored, acknowledged, parked
    stores.google.api.purchases.clear()
    assert stores.post_play(push("02_SUBSCRIPTION_RENEWED")).status_code == 200
    assert stores.subscription(SUB_ID) is None and stores.outbox() == {}
    assert len(stores.parked()) == 2 and {p["waits_for"] for p in stores.parked()} == {None}
