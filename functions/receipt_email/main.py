"""receipt_email: one customer e-mail per invoice, credit note or notice.

Pub/Sub ``messagePublished`` CloudEvents from ``subscription-events``. The
emulator ignores subscription filters, so the ``type`` attribute is checked
here and other types are acked untouched. A message that is not a domain
event at all can never succeed: it is logged (ids only) and acked. A
:class:`RetryLater` (send lease held elsewhere, customer or original invoice
not there yet) and bad data (an unknown market) raise, so Pub/Sub redelivers
and, for bad data, dead-letters after the bounded attempts. The customer's
e-mail address never reaches a log line.
"""

from __future__ import annotations

import functools
from typing import Any

import functions_framework

from refrain import bootstrap, config_contract, serving
from refrain.domain import DomainError, EventParseError, from_pubsub_message
from refrain.invoicing import ReceiptService, RetryLater
from refrain.observability import get_logger
from refrain.push_envelope import MalformedPush, decode_push, push_message_id
from refrain.topology import RECEIPT_EVENT_TYPES

# In the cloud, a missing setting stops the instance here, by name.
config_contract.refuse_incomplete("receipt_email")
serving.limit_the_server()  # request-line bound, no control socket (refrain.serving)

log = get_logger("receipt_email")


@functools.cache
def service() -> ReceiptService:
    """Clients are built once per instance, on first use."""
    return bootstrap.build_receipt_service()


@functions_framework.cloud_event
def receipt_email(cloud_event: Any) -> None:
    try:
        message = decode_push(cloud_event.data)
    except MalformedPush as exc:
        log.bind(message_id=push_message_id(cloud_event.data)).error(
            "malformed message; acked, nothing written", outcome="malformed", error=str(exc)[:500]
        )
        return
    attributes = message.attributes
    event_type = attributes.get("type")
    line = log.bind(
        trace=message.trace,
        message_id=message.message_id,
        event_type=event_type,
        event_id=attributes.get("event_id"),
        subscription_id=attributes.get("subscription_id"),
    )
    if event_type is not None and event_type not in RECEIPT_EVENT_TYPES:
        line.info("not a receipt event; acked", outcome="ignored")
        return
    try:
        event = from_pubsub_message(message.data, attributes)
    except EventParseError as exc:
        line.error(
            "malformed message; acked, nothing written", outcome="malformed", error=str(exc)[:500]
        )
        return
    if event.type.value not in RECEIPT_EVENT_TYPES:
        line.info("not a receipt event; acked", outcome="ignored", event_type=event.type.value)
        return
    try:
        result = service().handle(event)
    except RetryLater as exc:
        line.warning("not yet; left for redelivery", outcome="retry", reason=str(exc))
        raise
    except DomainError as exc:
        line.error(
            "bad event data; redelivered until dead-lettered", outcome="error", error=str(exc)
        )
        raise
    line.info(
        f"{result.kind}: {result.outcome}",
        outcome=result.outcome,
        kind=result.kind,
        invoice_id=result.invoice_id,
        invoice_number=result.number,
        ses_message_id=result.message_id,
        reason=result.reason,
    )
