"""The sender against the real checkout_webhook over HTTP: duplicates and disorder apply once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from refrain.adapters.firestore import build_firestore
from refrain.domain import load_catalog
from refrain.settings import CloudSettings
from refrain_tools.simulator import DeliveryPolicy, WebhookSender, events
from tests.integration.ingest.conftest import ADYEN_KEY, STRIPE_SECRET
from tests.support import ADYEN_PASSWORD, ADYEN_USER

CATALOG = load_catalog()


@pytest.mark.timeout(120)
def test_duplicated_reordered_deliveries_apply_each_event_once(
    webhook_url: str, cloud: CloudSettings
) -> None:
    at = datetime.now(UTC) - timedelta(days=2)
    later = at + timedelta(hours=1)
    se, de = CATALOG.price("individual_monthly", "SE"), CATALOG.price("duo_monthly", "DE")
    common: dict[str, Any] = {"email": "x@example.com", "account_id": "acct_sim"}
    checkout = events.checkout_session_completed(
        at=at, subscription_id="sim_se", plan="individual_monthly", market="SE", amount=se,
        locale="sv_SE", payment_intent="pi_sim_se", **common,
    )  # fmt: skip
    refund = events.charge_refunded(
        at=later, payment_intent="pi_sim_se", amount=se, metadata={"subscription_id": "sim_se"}
    )
    adyen_checkout = events.adyen_checkout(
        at=at, subscription_id="sim_de", plan="duo_monthly", market="DE", amount=de,
        locale="de_DE", token="OK_DE", psp_reference="PSPSIMDE00000001", **common,
    )  # fmt: skip
    adyen_refund = events.adyen_refund(
        at=later, original_reference="PSPSIMDE00000001", merchant_reference="sim_de:checkout",
        amount=de,
    )  # fmt: skip
    policy = DeliveryPolicy(
        seed=11, duplicate_rate=1.0, shuffle_window=3, workers=4, max_attempts=10,
        backoff_base_s=0.05, backoff_max_s=1.0,
    )  # fmt: skip
    with WebhookSender(
        webhook_url, stripe_secret=STRIPE_SECRET, adyen_hmac_key=ADYEN_KEY, policy=policy,
        adyen_basic_auth=(ADYEN_USER, ADYEN_PASSWORD),
    ) as sender:  # fmt: skip
        sender.send_stripe(refund)  # the refund is queued first: it must wait for its checkout
        sender.send_adyen(adyen_refund)
        sender.send_stripe(checkout)
        sender.send_adyen(adyen_checkout)
        stats = sender.flush(timeout=90)

    assert stats.events == 4 and stats.duplicated == 4 and stats.deliveries == 8
    assert stats.gave_up == 0 and stats.delivered == 8 and stats.final_statuses == {"200": 8}
    db = build_firestore(cloud)
    subs = {d.id: d.to_dict() or {} for d in db.collection("subscriptions").stream()}
    assert set(subs) == {"sim_se", "sim_de"}
    outbox = Counter((d.to_dict() or {})["status"] for d in db.collection("outbox").stream())
    print("delivery stats", stats.as_dict(), "outbox", dict(outbox))
    assert sum(outbox.values()) == 4  # one entry per event, whatever the deliveries
    # A refund that overtook its checkout was parked (answered 200), then applied.
    assert list(db.collection("parked_events").stream()) == []
    assert dict(outbox) == {"applied": 4}
    audit = list(db.collection("webhook_audit").stream())
    assert len(audit) == stats.sent
