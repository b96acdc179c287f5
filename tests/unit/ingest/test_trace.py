"""The webhook's log lines carry the request's trace, and the trace goes on with its events.

The service runs on the fuzz harness's recording ports with the real Stripe
verification; its logger writes to a buffer, so each test reads back exactly
the JSON lines one request produced.
"""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from refrain.domain.catalog import load_catalog
from refrain.domain.clock import FixedClock
from refrain.ingest.routes import WebhookSettings, card_routes
from refrain.ingest.service import WebhookService
from refrain.observability import get_logger, trace_from_attributes, trace_from_headers
from refrain.outbox import OutboxPublisher
from tests.fakes.audit import RecordingAudit
from tests.fakes.ledger import MemoryLedger
from tests.fakes.outbox import RecordingRelay
from tests.fakes.parking import MemoryParkingLot
from tests.integration.ingest.conftest import stripe_event
from tests.unit.fuzz.harness import NOW, STRIPE_SECRET, stripe_sign

JSON = {"Content-Type": "application/json"}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


class _LockedBuffer(io.StringIO):
    """A buffer many threads may write whole lines to."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)


def _service(
    project: str | None = "proj-1",
) -> tuple[WebhookService, _LockedBuffer, RecordingRelay]:
    out = _LockedBuffer()
    relay = RecordingRelay()
    webhook = WebhookSettings.model_validate({"STRIPE_WEBHOOK_SECRET": STRIPE_SECRET})
    ledger, log = MemoryLedger(), get_logger("checkout_webhook", out)
    service = WebhookService(
        routes=card_routes(webhook),
        ledger=ledger,
        publisher=OutboxPublisher(relay, ledger, FixedClock(NOW), log),
        audit=RecordingAudit(),
        parking=MemoryParkingLot(),
        catalog=load_catalog(),
        clock=lambda: NOW,
        log=log,
        project=project,
    )
    return service, out, relay


def _checkout(n: int = 1) -> bytes:
    event = stripe_event("checkout.session.completed", id=f"evt_trace_{n}")
    event["data"]["object"].update(
        mode="payment",
        payment_status="paid",
        payment_intent=f"pi_trace_{n}",
        amount_total=13900,
        currency="sek",
        metadata={
            "account_id": f"acct_trace_{n}",
            "plan": "individual_monthly",
            "market": "SE",
            "subscription_id": f"sub_trace_{n}",
            "locale": "sv_SE",
        },
    )
    return json.dumps(event).encode()


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_every_line_of_a_traced_request_carries_its_trace_and_so_do_its_events() -> None:
    service, out, relay = _service()
    body = _checkout()
    headers = {
        **JSON,
        "Stripe-Signature": stripe_sign(body),
        "X-Cloud-Trace-Context": f"{TRACE_ID}/1;o=1",
    }
    assert service.handle("POST", "/stripe", headers, body).status == 200
    lines = _lines(out)
    expected = f"projects/proj-1/traces/{TRACE_ID}"
    assert [line["message"] for line in lines] == ["provider event", "webhook answered"]
    assert all(line["logging.googleapis.com/trace"] == expected for line in lines)
    # The outbox entry stores it (the sweep's source) and the fast path publishes it.
    [command] = service.ledger.commands  # type: ignore[attr-defined]
    assert command.trace == expected
    assert relay.traces == [expected]


def test_a_rejected_request_is_traced_too() -> None:
    service, out, _ = _service()
    headers = {**JSON, "Stripe-Signature": "t=1,v1=00", "X-Cloud-Trace-Context": TRACE_ID}
    assert service.handle("POST", "/stripe", headers, _checkout()).status in (400, 401)
    [line] = _lines(out)
    assert line["severity"] == "WARNING"
    assert line["logging.googleapis.com/trace"] == f"projects/proj-1/traces/{TRACE_ID}"


def test_w3c_traceparent_from_flask_title_cased_headers() -> None:
    service, out, _ = _service()
    body = _checkout()
    parent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    headers = {**JSON, "Stripe-Signature": stripe_sign(body), "Traceparent": parent}
    assert service.handle("POST", "/stripe", headers, body).status == 200
    assert {line["logging.googleapis.com/trace"] for line in _lines(out)} == {
        f"projects/proj-1/traces/{TRACE_ID}"
    }


def test_an_untraced_request_and_an_unconfigured_project_write_no_trace() -> None:
    for project, extra in ((None, {"X-Cloud-Trace-Context": TRACE_ID}), ("proj-1", {})):
        service, out, relay = _service(project)
        body = _checkout()
        headers = {**JSON, "Stripe-Signature": stripe_sign(body), **extra}
        assert service.handle("POST", "/stripe", headers, body).status == 200
        assert all("logging.googleapis.com/trace" not in line for line in _lines(out))
        assert relay.traces == [None]


def test_concurrent_requests_on_one_service_keep_their_own_traces() -> None:
    """The storm case: one service, many threads; no request's trace leaks into another's."""
    service, out, relay = _service()

    def post(n: int) -> int:
        body = _checkout(n)
        trace_id = f"{n:032x}"
        headers = {
            **JSON,
            "Stripe-Signature": stripe_sign(body),
            "X-Cloud-Trace-Context": f"{trace_id}/7",
        }
        return service.handle("POST", "/stripe", headers, body).status

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert list(pool.map(post, range(1, 49))) == [200] * 48
    lines = _lines(out)
    assert len(lines) == 96
    for line in lines:
        n = int(line["logging.googleapis.com/trace"].rsplit("/", 1)[1], 16)
        if line["message"] == "provider event":
            assert line["subscription_id"] == f"sub_trace_{n}"
    assert service.log.trace is None, "the shared logger is never bound"
    assert sorted(t or "" for t in relay.traces) == sorted(
        f"projects/proj-1/traces/{n:032x}" for n in range(1, 49)
    )


def test_oversized_or_odd_trace_headers_are_ignored() -> None:
    assert trace_from_headers({"X-Cloud-Trace-Context": "a" * 65}, "p") is None
    assert trace_from_headers({"x-cloud-trace-context": "ab;o=1"}, "p") == "projects/p/traces/ab"
    assert trace_from_headers({"traceparent": "00-not hex!-x-01"}, "p") is None
    assert trace_from_attributes({"trace": "projects/p/traces/ab"}) == "projects/p/traces/ab"
    assert trace_from_attributes({"trace": "anything else"}) is None
    assert trace_from_attributes({"trace": 7}) is None
    assert trace_from_attributes({}) is None
