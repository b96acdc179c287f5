from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from refrain.observability import get_logger, scrub, trace_from_headers


def test_one_json_line_with_severity_trace_and_labels() -> None:
    out = io.StringIO()
    log = get_logger("checkout_webhook", out).bind(
        trace="projects/p/traces/abc", provider="stripe", provider_event_id="evt_1"
    )
    log.info("applied", subscription_id="sub_1", outcome="applied", latency_ms=3)
    [line] = out.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["severity"] == "INFO"
    assert entry["logging.googleapis.com/trace"] == "projects/p/traces/abc"
    assert entry["logging.googleapis.com/labels"] == {
        "function": "checkout_webhook",
        "provider": "stripe",
        "provider_event_id": "evt_1",
        "subscription_id": "sub_1",
        "outcome": "applied",
    }
    assert entry["latency_ms"] == 3


def test_secrets_and_personal_data_are_redacted() -> None:
    out = io.StringIO()
    get_logger("f", out).warning(
        "mail to kim.larsson@example.se bounced",
        webhook_secret="whsec_123",
        customer_email="kim.larsson@example.se",
        detail={"nested": "reply to a.b@c.io", "card_number": "4242"},
    )
    text = out.getvalue()
    for leaked in ("whsec_123", "kim.larsson@example.se", "a.b@c.io", "4242"):
        assert leaked not in text
    entry = json.loads(text)
    assert entry["webhook_secret"] == "[redacted]"
    assert entry["detail"]["card_number"] == "[redacted]"


@given(st.emails())
def test_no_email_survives_scrubbing(email: str) -> None:
    assert email not in json.dumps(scrub({"note": f"x {email} y", "list": [email]}))


def test_trace_from_cloud_and_w3c_headers() -> None:
    assert trace_from_headers({"X-Cloud-Trace-Context": "t1/9;o=1"}, "p") == "projects/p/traces/t1"
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert trace_from_headers({"traceparent": parent}, "p") == (
        "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    )
    assert trace_from_headers({}, "p") is None
