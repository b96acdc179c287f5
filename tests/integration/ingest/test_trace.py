"""One payment, one trace: from the webhook's lines, via Pub/Sub, to a consumer's lines.

The webhook is the real function (functions-framework); its events are pulled
from the `churn-export` subscription with their attributes and handed to the
real receipt_email function, whose stdout lines are read back.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from refrain.bootstrap import build_webhook_service
from refrain.invoicing import RetryLater
from refrain.settings import CloudSettings
from tests.integration.ingest.conftest import STRIPE_SECRET, Webhook
from tests.integration.ingest.test_checkout_webhook import checkout
from tests.support import load_function, pull_messages, stripe_header, sweep_outbox

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACE_KEY = "logging.googleapis.com/trace"


def _pull_raw(settings: CloudSettings, want: int) -> list[Any]:
    """Raw messages (data + attributes) from the churn-export pull subscription."""
    return pull_messages(settings, "churn-export", lambda got: len(got) >= want, timeout_s=15)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _as_cloud_event(message: Any) -> CloudEvent:
    return CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/p/topics/subscription-events",
        },
        {
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "attributes": dict(message.attributes),
                "messageId": message.message_id,
            }
        },
    )


def test_the_webhook_trace_reaches_the_published_events_and_the_receipt_lines(
    webhook: Webhook,
    cloud: CloudSettings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = f"projects/{cloud.project}/traces/{TRACE_ID}"
    body = json.dumps(checkout(event_id="evt_traced", sub_id="sub_traced")).encode()
    answer = webhook.client.post(
        "/stripe",
        data=body,
        headers={
            "Stripe-Signature": stripe_header(body, STRIPE_SECRET, int(time.time())),
            "Content-Type": "application/json",
            "X-Cloud-Trace-Context": f"{TRACE_ID}/1;o=1",
        },
    )
    assert answer.status_code == 200
    webhook_lines = [
        e for e in _lines(capsys.readouterr().out) if e["function"] == "checkout_webhook"
    ]
    assert webhook_lines and all(e.get(TRACE_KEY) == expected for e in webhook_lines)

    messages = _pull_raw(cloud, want=2)
    assert sorted(m.attributes["type"] for m in messages) == [
        "invoice.paid",
        "subscription.activated",
    ]
    assert {m.attributes["trace"] for m in messages} == {expected}

    monkeypatch.setenv("REFRAIN_ACCOUNT_URL", "https://account.test")
    receipts = load_function("receipt_email")
    receipts.service.cache_clear()
    try:
        for message in messages:
            for _ in range(10):  # what Pub/Sub does while the function raises RetryLater
                try:
                    receipts.receipt_email(_as_cloud_event(message))
                    break
                except RetryLater:
                    continue
    finally:
        receipts.service.cache_clear()
    receipt_lines = [e for e in _lines(capsys.readouterr().out) if e["function"] == "receipt_email"]
    assert {e["event_type"] for e in receipt_lines} == {"invoice.paid", "subscription.activated"}
    assert all(e.get(TRACE_KEY) == expected for e in receipt_lines)


def test_the_outbox_sweep_publishes_with_the_trace_the_request_had(
    webhook: Webhook, cloud: CloudSettings
) -> None:
    def crash() -> None:
        raise RuntimeError("killed between commit and publish")

    service = build_webhook_service(cloud, crash_before_publish=crash)
    body = json.dumps(checkout(event_id="evt_swept", sub_id="sub_swept")).encode()
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_header(body, STRIPE_SECRET, int(time.time())),
        "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    }
    assert service.handle("POST", "/stripe", headers, body).status == 200
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert sweep_outbox(cloud, later) == 1
    messages = _pull_raw(cloud, want=2)
    assert len(messages) == 2
    assert {m.attributes["trace"] for m in messages} == {
        f"projects/{cloud.project}/traces/{TRACE_ID}"
    }
