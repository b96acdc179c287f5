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

import base64
import binascii
import functools
from collections.abc import Mapping
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from refrain.domain import DomainError, DomainEvent, EventParseError, from_pubsub_message
from refrain.invoicing import ReceiptService, RetryLater
from refrain.observability import get_logger, trace_from_attributes
from refrain.topology import RECEIPT_EVENT_TYPES

log = get_logger("receipt_email")


@functools.cache
def service() -> ReceiptService:
    """Clients are built once per instance, on first use."""
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_invoices import (
        FirestoreCustomers,
        FirestoreInvoiceStore,
        FirestoreSendLedger,
    )
    from refrain.adapters.ses_raw import RawSesMailer, build_raw_ses
    from refrain.domain import load_catalog
    from refrain.invoicing import ReceiptConfig
    from refrain.invoicing.settings import ReceiptSettings
    from refrain.settings import CloudSettings

    cloud, settings = CloudSettings(), ReceiptSettings()
    db = build_firestore(cloud)
    return ReceiptService(
        catalog=load_catalog(),
        invoices=FirestoreInvoiceStore(db),
        customers=FirestoreCustomers(db),
        ledger=FirestoreSendLedger(db, lease_s=settings.send_lease_s),
        mailer=RawSesMailer(build_raw_ses(cloud), settings.ses_configuration_set),
        config=ReceiptConfig(
            sender=cloud.mail_from,
            sender_name=settings.sender_name,
            account_url=settings.account_url,
            shards=settings.series_shards,
        ),
    )


def decode(message: Mapping[str, Any]) -> DomainEvent:
    """The domain event in a Pub/Sub message; any defect is an EventParseError."""
    try:
        data = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise EventParseError(f"message data is not base64: {exc}") from exc
    return from_pubsub_message(data, _mapping(message.get("attributes")))


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@functions_framework.cloud_event
def receipt_email(cloud_event: CloudEvent) -> None:
    message = _mapping(_mapping(cloud_event.data).get("message"))
    attributes = _mapping(message.get("attributes"))
    event_type = attributes.get("type")
    line = log.bind(
        trace=trace_from_attributes(attributes),
        message_id=message.get("messageId") or message.get("message_id"),
        event_type=event_type,
        event_id=attributes.get("event_id"),
        subscription_id=attributes.get("subscription_id"),
    )
    if event_type is not None and event_type not in RECEIPT_EVENT_TYPES:
        line.info("not a receipt event; acked", outcome="ignored")
        return
    try:
        event = decode(message)
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
    )
