"""Domain events: a versioned envelope, typed payloads, Pub/Sub message pieces.

Every event carries ``event_id`` = ``f"{subscription_id}#{sequence}"``, so the
same transition re-run after a crash produces byte-identical events and
consumers dedupe on ``event_id``. ``sequence`` is per subscription, gap-free
and matches ``Subscription.sequence`` after the transition that emitted it;
Pub/Sub ordering key is the subscription id.

Payloads are plain JSON objects (ISO-8601 strings, int minor units) so the
data published is exactly the data stored in the outbox. Each event type has
a pydantic payload model; parsing validates the payload against it, and a
consumer may call :meth:`DomainEvent.typed_payload` for attribute access.
Bumping ``schema_version`` is how a payload changes incompatibly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from refrain.domain.errors import EventParseError

__all__ = [
    "SCHEMA_VERSION",
    "DomainEvent",
    "EventType",
    "PubSubMessage",
    "event_id_for",
    "from_pubsub_message",
    "to_pubsub_message",
]

SCHEMA_VERSION: Final = 1


def event_id_for(subscription_id: str, sequence: int) -> str:
    """Deterministic and unique: the subscription's own id plus its event sequence."""
    return f"{subscription_id}#{sequence}"


class EventType(StrEnum):
    ACTIVATED = "subscription.activated"
    TRIAL_STARTED = "subscription.trial_started"
    RENEWED = "subscription.renewed"
    INVOICE_PAID = "invoice.paid"
    PAYMENT_FAILED = "payment.failed"
    PAST_DUE = "subscription.past_due"
    ON_HOLD = "subscription.on_hold"
    RECOVERED = "subscription.recovered"
    CANCEL_REQUESTED = "subscription.cancel_requested"
    CANCEL_REVERTED = "subscription.cancel_reverted"
    PLAN_CHANGED = "subscription.plan_changed"
    PLAN_CHANGE_DECLINED = "subscription.plan_change_declined"
    PAUSED = "subscription.paused"
    RESUMED = "subscription.resumed"
    CHARGE_REFUNDED = "charge.refunded"
    CHARGE_DISPUTED = "charge.disputed"
    CHARGE_DISPUTE_CLOSED = "charge.dispute_closed"
    EXPIRED = "subscription.expired"
    PAYMENT_METHOD_UPDATED = "payment_method.updated"
    PRICE_CHANGE_SCHEDULED = "subscription.price_change_scheduled"
    PRICE_CONSENT_RECORDED = "subscription.price_consent_recorded"


# payloads --------------------------------------------------------------------


class _Payload(BaseModel):
    """Context every payload carries, so a consumer never has to read Firestore."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    provider: str
    billing_mode: Literal["merchant_managed", "provider_managed"]
    plan: str
    market: str
    state: str
    renewal_count: int
    failed_attempts: int


class ActivatedPayload(_Payload):
    period_start: AwareDatetime
    period_end: AwareDatetime
    amount: int
    currency: str
    from_trial: bool


class TrialStartedPayload(_Payload):
    trial_end: AwareDatetime


class RenewedPayload(_Payload):
    period_start: AwareDatetime
    period_end: AwareDatetime


class InvoicePaidPayload(_Payload):
    """What a receipt needs: amount, currency, period, plan and market."""

    charge_id: str | None
    amount: int
    currency: str
    period_start: AwareDatetime
    period_end: AwareDatetime
    billing_reason: Literal["subscription_create", "subscription_cycle", "subscription_update"]
    attempt: int
    tax: int | None = None  # inside amount where the tax was added on top (tax-exclusive)


class PaymentFailedPayload(_Payload):
    charge_id: str | None
    amount: int
    currency: str
    attempt: int
    decline_category: str
    decline_code: str | None
    hard_decline: bool
    next_retry_at: AwareDatetime | None
    retry_policy: str | None = None  # the policy/version that chose next_retry_at
    retry_variant: str | None = None  # the dunning experiment's variant it ran, if any


class PastDuePayload(_Payload):
    grace_until: AwareDatetime | None
    next_retry_at: AwareDatetime | None


class OnHoldPayload(_Payload):
    hold_until: AwareDatetime | None
    next_retry_at: AwareDatetime | None


class RecoveredPayload(_Payload):
    from_state: str


class CancelRequestedPayload(_Payload):
    reason: str | None
    effective_at: AwareDatetime | None


class CancelRevertedPayload(_Payload):
    pass


class PlanChangedPayload(_Payload):
    from_plan: str
    to_plan: str
    direction: Literal["upgrade", "downgrade"]
    effective_at: AwareDatetime | None
    scheduled: bool
    proration_amount: int | None
    currency: str


class PlanChangeDeclinedPayload(_Payload):
    """An upgrade whose proration charge was declined: the plan did not change."""

    from_plan: str
    to_plan: str
    charge_id: str
    amount: int
    currency: str
    decline_category: str
    decline_code: str | None
    hard_decline: bool


class PausedPayload(_Payload):
    resume_at: AwareDatetime | None


class ResumedPayload(_Payload):
    period_end: AwareDatetime | None


class ChargeRefundedPayload(_Payload):
    charge_id: str
    amount: int
    currency: str
    reason: str | None
    access_revoked: bool


class ChargeDisputedPayload(_Payload):
    charge_id: str
    amount: int
    currency: str
    reason_code: str | None
    access_revoked: bool
    evidence_due_at: AwareDatetime | None = None  # submit evidence before this, or lose


class ChargeDisputeClosedPayload(_Payload):
    """A dispute decided: won (money back; access back if the dispute had ended it) or lost."""

    charge_id: str
    amount: int
    currency: str
    won: bool
    access_restored: bool
    payment_method_blocked: bool  # lost: the card is dropped, never retried


class ExpiredPayload(_Payload):
    """Churn signal: tenure, renewals and failures are here, no lookup needed."""

    churn_type: Literal["voluntary", "involuntary", "revoked"]
    started_at: AwareDatetime | None
    ended_at: AwareDatetime
    tenure_days: int
    cancel_reason: str | None


class PaymentMethodUpdatedPayload(_Payload):
    payment_method_ref: str | None
    retry_at: AwareDatetime | None


class PriceChangeScheduledPayload(_Payload):
    """A notice: ``amount`` replaces ``old_amount`` from the renewal at ``applies_from``."""

    change_id: str
    old_amount: int
    amount: int
    currency: str
    effective_at: AwareDatetime
    applies_from: AwareDatetime
    notice_days: int
    consent_required: bool
    consented: bool


class PriceConsentRecordedPayload(_Payload):
    change_id: str
    amount: int
    currency: str
    applies_from: AwareDatetime


PAYLOAD_MODELS: Final[dict[EventType, type[_Payload]]] = {
    EventType.ACTIVATED: ActivatedPayload,
    EventType.TRIAL_STARTED: TrialStartedPayload,
    EventType.RENEWED: RenewedPayload,
    EventType.INVOICE_PAID: InvoicePaidPayload,
    EventType.PAYMENT_FAILED: PaymentFailedPayload,
    EventType.PAST_DUE: PastDuePayload,
    EventType.ON_HOLD: OnHoldPayload,
    EventType.RECOVERED: RecoveredPayload,
    EventType.CANCEL_REQUESTED: CancelRequestedPayload,
    EventType.CANCEL_REVERTED: CancelRevertedPayload,
    EventType.PLAN_CHANGED: PlanChangedPayload,
    EventType.PLAN_CHANGE_DECLINED: PlanChangeDeclinedPayload,
    EventType.PAUSED: PausedPayload,
    EventType.RESUMED: ResumedPayload,
    EventType.CHARGE_REFUNDED: ChargeRefundedPayload,
    EventType.CHARGE_DISPUTED: ChargeDisputedPayload,
    EventType.CHARGE_DISPUTE_CLOSED: ChargeDisputeClosedPayload,
    EventType.EXPIRED: ExpiredPayload,
    EventType.PAYMENT_METHOD_UPDATED: PaymentMethodUpdatedPayload,
    EventType.PRICE_CHANGE_SCHEDULED: PriceChangeScheduledPayload,
    EventType.PRICE_CONSENT_RECORDED: PriceConsentRecordedPayload,
}


class DomainEvent(BaseModel):
    """The envelope. ``payload`` is JSON data validated against the type's model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    type: EventType
    schema_version: int
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    subscription_id: str
    sequence: int
    payload: dict[str, Any]

    def typed_payload(self) -> _Payload:
        return PAYLOAD_MODELS[self.type].model_validate(self.payload)

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


def validate_event(event: DomainEvent) -> DomainEvent:
    """Check an envelope fully (payload included); raises EventParseError."""
    if event.schema_version != SCHEMA_VERSION:
        raise EventParseError(f"unsupported schema_version {event.schema_version}")
    if event.event_id != event_id_for(event.subscription_id, event.sequence):
        raise EventParseError("event_id does not match subscription_id and sequence")
    try:
        PAYLOAD_MODELS[event.type].model_validate(event.payload)
    except ValidationError as exc:
        raise EventParseError(f"invalid payload for {event.type}: {exc}") from exc
    return event


# Pub/Sub ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PubSubMessage:
    """The three pieces a publisher needs; the adapter owns the client."""

    data: bytes
    attributes: dict[str, str]
    ordering_key: str


def to_pubsub_message(event: DomainEvent) -> PubSubMessage:
    return PubSubMessage(
        data=event.to_json_bytes(),
        attributes={
            "type": event.type.value,
            "schema_version": str(event.schema_version),
            "event_id": event.event_id,
            "subscription_id": event.subscription_id,
            "sequence": str(event.sequence),
        },
        ordering_key=event.subscription_id,
    )


def from_pubsub_message(data: bytes, attributes: Mapping[str, str] | None = None) -> DomainEvent:
    """Parse and fully validate a message; any defect raises EventParseError."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise EventParseError(f"message data is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise EventParseError("message data is not a JSON object")
    try:
        event = DomainEvent.model_validate(raw)
    except ValidationError as exc:
        raise EventParseError(f"not a domain event: {exc}") from exc
    if attributes:
        for key, expected in (
            ("type", event.type.value),
            ("schema_version", str(event.schema_version)),
            ("event_id", event.event_id),
        ):
            if key in attributes and attributes[key] != expected:
                raise EventParseError(
                    f"attribute {key}={attributes[key]!r} disagrees with body {expected!r}"
                )
    return validate_event(event)


def build_event(
    *,
    subscription_id: str,
    sequence: int,
    type: EventType,
    occurred_at: datetime,
    recorded_at: datetime,
    payload: dict[str, Any],
) -> DomainEvent:
    """Fast constructor for the state machine (inputs are already typed and checked).

    Equivalent to ``DomainEvent.model_construct`` with every field given, minus
    its per-call field walk; the unit tests round-trip every emitted event
    through full validation to keep the two in step.
    """
    event: DomainEvent = _new_event(DomainEvent)
    _set_dict(event, {
        "event_id": f"{subscription_id}#{sequence}",  # event_id_for, inlined
        "type": type,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "subscription_id": subscription_id,
        "sequence": sequence,
        "payload": payload,
    })  # fmt: skip
    _set_fields_set(event, _ALL_FIELDS)
    _set_extra(event, None)
    _set_private(event, None)
    return event


# BaseModel's slot descriptors: their setters write what ``object.__setattr__``
# would, without its generic call (a third of an event's cost on CPython 3.11).
_new_event = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_ALL_FIELDS: Final = frozenset(DomainEvent.model_fields)
