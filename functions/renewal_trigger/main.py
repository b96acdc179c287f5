"""renewal_trigger: scheduled renewals, two entry points sharing one source folder.

renewal_tick (Cloud Scheduler -> `renewal-ticks`): query what is due through the
composite index, page by page, and publish one `renewal-charges` message per
subscription (ordering key = subscription id). The tick payload is ignored.

renewal_charge (`renewal-charges`): apply the due timer; for a renewal, claim the
charge, charge it once through the gateway, record the outcome (see
refrain.renewals.worker). Returning acks; raising nacks, so Pub/Sub redelivers
(gateway timeouts and 5xx, Firestore contention) with bounded retries and a
dead-letter topic. A malformed message is logged and acked: it can never succeed.
A message with a ``trace`` attribute has its lines logged under that trace.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import functions_framework

from refrain.observability import trace_from_attributes
from refrain.renewals.messages import BadMessage, ChargeMessage
from refrain.renewals.wiring import Renewals, build_renewals

_renewals: Renewals | None = None


def _service() -> Renewals:
    global _renewals  # noqa: PLW0603 - one service per instance, built on first delivery
    if _renewals is None:
        _renewals = build_renewals()
    return _renewals


@functions_framework.cloud_event
def renewal_tick(cloud_event: Any) -> None:
    _service().tick.run()


@functions_framework.cloud_event
def renewal_charge(cloud_event: Any) -> None:
    service = _service()
    message = (cloud_event.data or {}).get("message") or {}
    attributes = message.get("attributes")
    trace = trace_from_attributes(attributes) if isinstance(attributes, Mapping) else None
    try:
        charge = ChargeMessage.decode(base64.b64decode(message.get("data") or b""))
    except (BadMessage, ValueError) as exc:
        service.worker.log.bind(trace=trace).error(
            "malformed renewal message acked", message_id=message.get("messageId"), reason=str(exc)
        )
        return
    service.worker.handle(charge, trace=trace)
