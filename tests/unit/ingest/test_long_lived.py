"""A webhook instance serves requests for hours: it must not keep something per request.

Cloud Functions reuses an instance for many requests, so anything the service
appends to per event is a leak. What an operator or a bench wants per event is
in the ``provider event`` log line (its ``outcome``), not on the instance.
"""

from __future__ import annotations

from collections.abc import Sized

from refrain.ingest.service import WebhookService
from tests.unit.fuzz.harness import stripe_sign
from tests.unit.ingest.test_trace import JSON, _checkout, _lines, _service


def _held(service: WebhookService) -> int:
    """How many items the service's own collections hold (ports and routes aside)."""
    held = [v for k, v in vars(service).items() if k != "routes" and isinstance(v, Sized)]
    return sum(len(v) for v in held if not isinstance(v, str | bytes))


def _post(service: WebhookService, n: int) -> None:
    body = _checkout(n)
    headers = {**JSON, "Stripe-Signature": stripe_sign(body)}
    assert service.handle("POST", "/stripe", headers, body).status == 200


def test_the_service_holds_nothing_per_request() -> None:
    service, out, _ = _service()
    _post(service, 0)
    held = _held(service)
    for n in range(1, 51):
        _post(service, n)
    assert _held(service) == held
    # Each outcome is in its log line, where a bench or an operator counts it.
    outcomes = [line["outcome"] for line in _lines(out) if line["message"] == "provider event"]
    assert outcomes == ["applied"] * 51
