"""Transactional outbox: a crash between commit and publish loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from refrain.bootstrap import build_webhook_service
from refrain.settings import CloudSettings
from tests.integration.ingest.conftest import STRIPE_SECRET, Webhook, pull_events
from tests.integration.ingest.test_checkout_webhook import checkout
from tests.support import stripe_header, sweep_outbox


class Crash(RuntimeError):
    """Stands for the process dying after the commit, before the publish."""


def _crash() -> None:
    raise Crash("killed between commit and publish")


# The second id's document id is hashed (too long to encode): the sweep reads the key back
# from the entry, and marks that very entry published.
@pytest.mark.parametrize("event_id", ["evt_checkout_1", "evt/ü" + "é" * 400])
def test_crash_between_commit_and_publish_is_repaired_by_the_sweep_exactly_once(
    webhook: Webhook, cloud: CloudSettings, event_id: str
) -> None:
    service = build_webhook_service(cloud, crash_before_publish=_crash)
    import json
    import time

    body = json.dumps(checkout(event_id)).encode()
    answer = service.handle(
        "POST",
        "/stripe",
        {
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_header(body, STRIPE_SECRET, int(time.time())),
        },
        body,
    )
    assert answer.status == 200  # the state change is durable; publishing is the relay's job
    assert pull_events(cloud) == []
    [entry] = list(webhook.db.collection("outbox").stream())
    assert (entry.to_dict() or {})["published"] is False

    later = datetime.now(UTC) + timedelta(minutes=5)
    assert sweep_outbox(cloud, later) == 1
    events = pull_events(cloud, want=2)
    assert sorted(e.type.value for e in events) == ["invoice.paid", "subscription.activated"]
    assert sweep_outbox(cloud, later) == 0
    assert pull_events(cloud) == []


def test_sweep_leaves_recent_entries_to_the_fast_path(
    webhook: Webhook, cloud: CloudSettings
) -> None:
    service = build_webhook_service(cloud, crash_before_publish=_crash)
    import json
    import time

    body = json.dumps(checkout()).encode()
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_header(body, STRIPE_SECRET, int(time.time())),
    }
    assert service.handle("POST", "/stripe", headers, body).status == 200
    assert sweep_outbox(cloud, datetime.now(UTC)) == 0
