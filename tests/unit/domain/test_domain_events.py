"""Domain event envelope and Pub/Sub message pieces."""

from __future__ import annotations

import json

import pytest

from refrain.domain import (
    DomainEvent,
    EventParseError,
    EventType,
    from_pubsub_message,
    to_pubsub_message,
)
from refrain.domain.events import PAYLOAD_MODELS, event_id_for

from .builders import active_sub, fail, run_timers

pytestmark = pytest.mark.unit


def _events() -> list[DomainEvent]:
    sub = active_sub()
    assert sub.current_period_end is not None
    _, outs = run_timers(sub, sub.current_period_end, fail)
    return [e for o in outs for e in o.events]


def test_message_pieces() -> None:
    event = _events()[0]
    msg = to_pubsub_message(event)
    assert msg.ordering_key == event.subscription_id
    assert msg.attributes["type"] == event.type.value
    assert msg.attributes["schema_version"] == "1"
    assert msg.attributes["event_id"] == event.event_id
    body = json.loads(msg.data)
    assert body["sequence"] == event.sequence and body["payload"]["currency"] == "SEK"


def test_round_trip_is_exact() -> None:
    for event in _events():
        msg = to_pubsub_message(event)
        assert from_pubsub_message(msg.data, msg.attributes) == event


def test_event_ids_are_deterministic() -> None:
    assert event_id_for("sub_1", 3) == event_id_for("sub_1", 3)
    assert event_id_for("sub_1", 3) != event_id_for("sub_1", 4)
    assert event_id_for("sub_1", 3) != event_id_for("sub_2", 3)


def test_every_event_type_has_a_payload_model() -> None:
    assert set(PAYLOAD_MODELS) == set(EventType)


def _mutated(change: dict[str, object]) -> bytes:
    event = _events()[0]
    body = json.loads(to_pubsub_message(event).data)
    body.update(change)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        _mutated({"type": "subscription.exploded"}),
        _mutated({"schema_version": 99}),
        _mutated({"sequence": 999}),  # event_id no longer matches
        _mutated({"occurred_at": "2025-01-01T00:00:00"}),  # naive
        _mutated({"payload": {"account_id": "x"}}),
        _mutated({"unexpected": 1}),
    ],
)
def test_parse_errors_are_clear(data: bytes) -> None:
    with pytest.raises(EventParseError):
        from_pubsub_message(data)


def test_attribute_disagreeing_with_body_is_refused() -> None:
    msg = to_pubsub_message(_events()[0])
    attrs = dict(msg.attributes, type="invoice.paid")
    with pytest.raises(EventParseError, match="disagrees"):
        from_pubsub_message(msg.data, attrs)


def test_typed_payload() -> None:
    failed = next(e for e in _events() if e.type is EventType.PAYMENT_FAILED)
    payload = failed.typed_payload()
    assert payload.failed_attempts == 1
