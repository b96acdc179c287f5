"""A business's own Stripe Prices and Adyen references, mapped by configuration, end to end.

Real captures, unchanged: a Stripe Billing subscription on a Price that carries no
Refrain metadata and no lookup key. Without a mapping it is acknowledged and parked
for an operator; with one it is mirrored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from refrain.domain import load_catalog
from refrain.ingest.model import subscription_id_for
from tests.integration.ingest.conftest import Webhook, ago, stripe_event
from tests.support import FIXTURES

CAPTURED_PRICE = "price_1PgafmB7WZ01zgkW6dKueIc5"
STRIPE_SUB = "stripe_sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"


def _captured_created() -> dict[str, object]:
    event = stripe_event("customer.subscription.created", created=ago(1))
    item = event["data"]["object"]["items"]["data"][0]
    item.update(current_period_start=ago(1), current_period_end=ago(-29))
    return event


def _parked(webhook: Webhook) -> list[dict[str, object]]:
    return [d.to_dict() or {} for d in webhook.db.collection("parked_events").stream()]


def test_an_unmapped_price_is_acknowledged_and_parked_for_an_operator(webhook: Webhook) -> None:
    answer = webhook.post_stripe(_captured_created())
    assert answer.status_code == 200
    assert webhook.subscription(STRIPE_SUB) is None
    [parked] = _parked(webhook)
    assert CAPTURED_PRICE in str(parked["reason"]) and "STRIPE_PRICE_PLANS" in str(parked["reason"])


def test_a_mapped_price_mirrors_the_subscription(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_PRICE_PLANS", json.dumps({CAPTURED_PRICE: "individual_monthly@US"}))
    event = _captured_created()
    assert webhook.post_stripe(event).status_code == 200
    sub = webhook.subscription(STRIPE_SUB)
    assert sub is not None
    assert (sub["plan"], sub["market"], sub["state"]) == ("individual_monthly", "US", "active")
    assert sub["account_id"] == event["data"]["object"]["customer"]  # type: ignore[index]
    assert sub["billing_mode"] == "provider_managed"
    assert _parked(webhook) == []


def test_an_adyen_reference_to_the_merchant_s_convention_creates_the_subscription(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ADYEN_REFERENCE_PATTERN",
        r"(?P<order>[^/]+)/(?P<account>[^/]+)/(?P<plan>[^/]+)/(?P<market>[A-Z]{2})",
    )
    monkeypatch.setenv("ADYEN_REFERENCE_PLANS", json.dumps({"PREMIUM": "individual_monthly"}))
    signed = json.loads((FIXTURES / "adyen" / "signed" / "authorisation_success.json").read_text())
    item = signed["notificationItems"][0]["NotificationRequestItem"]
    price = load_catalog().price("individual_monthly", "DE")
    reference = "ORD-1/kund:ü\\1/PREMIUM/DE"  # "/", ":", "\" and non-ASCII in one reference
    item.update(
        merchantReference=reference,
        pspReference="PSP_CONVENTION_1",
        eventDate=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        amount={"currency": price.currency, "value": price.amount},
    )
    answer = webhook.post_adyen([item])
    assert answer.status_code == 200 and answer.data == b"[accepted]"
    sub = webhook.subscription(subscription_id_for("adyen", reference))
    assert sub is not None
    assert (sub["account_id"], sub["plan"], sub["market"]) == (
        "kund:ü\\1",
        "individual_monthly",
        "DE",
    )
    assert sub["state"] == "active"
