"""The one publish-then-mark: after a commit (announce) and from the sweep."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from refrain.domain.clock import FixedClock, utc
from refrain.domain.events import DomainEvent, EventType
from refrain.ledger import OutboxEntry
from refrain.observability import get_logger
from refrain.outbox import OutboxPublisher
from tests.fakes.ledger import MemoryLedger
from tests.fakes.outbox import RecordingRelay

NOW = utc(2025, 6, 1)


def event(n: int) -> DomainEvent:
    return DomainEvent(
        event_id=f"e{n}",
        type=EventType.CANCEL_REQUESTED,
        schema_version=1,
        occurred_at=NOW,
        recorded_at=NOW,
        subscription_id="sub_1",
        sequence=n,
        payload={},
    )


def entry(n: int, age: timedelta, trace: str | None = None) -> OutboxEntry:
    created = NOW - age
    return OutboxEntry(
        "care",
        "sub_1",
        "CancelRequested",
        created,
        "applied",
        None,
        (event(n),),
        False,
        trace=trace,
    )


def publisher(relay: RecordingRelay) -> tuple[OutboxPublisher, MemoryLedger, io.StringIO]:
    out, ledger = io.StringIO(), MemoryLedger()
    ledger.outbox = {f"k{n}": entry(n, timedelta(minutes=n)) for n in range(1, 4)}
    return OutboxPublisher(relay, ledger, FixedClock(NOW), get_logger("t", out)), ledger, out


def test_announce_publishes_then_marks() -> None:
    relay = RecordingRelay()
    outbox, ledger, _ = publisher(relay)
    assert outbox.announce("k1", (event(1),), "projects/p/traces/t")
    assert relay.published == [("k1", (event(1),))] and relay.traces == ["projects/p/traces/t"]
    assert ledger.marked == ["k1"] and ledger.outbox["k1"].published


def test_announce_without_mark_leaves_the_mark_to_the_caller() -> None:
    relay = RecordingRelay()
    outbox, ledger, _ = publisher(relay)
    assert outbox.announce("k1", (event(1),), mark=False)
    assert relay.published and ledger.marked == [] and not ledger.outbox["k1"].published


def test_nothing_to_announce_publishes_nothing() -> None:
    relay = RecordingRelay()
    outbox, ledger, _ = publisher(relay)
    assert not outbox.announce(None, (event(1),))
    assert not outbox.announce("k1", ())
    assert relay.published == [] and ledger.marked == []


def test_a_failed_publish_is_logged_and_left_to_the_sweep() -> None:
    outbox, ledger, out = publisher(RecordingRelay(fail=True))
    assert not outbox.announce("k1", (event(1),), provider="stripe")
    assert ledger.marked == [] and not ledger.outbox["k1"].published
    [line] = [json.loads(raw) for raw in out.getvalue().splitlines()]
    assert line["message"] == "publish deferred to the outbox sweep"
    assert (line["severity"], line["provider"], line["error"]) == (
        "WARNING",
        "stripe",
        "ConnectionError",
    )


def test_the_sweep_publishes_what_waited_long_enough_oldest_first() -> None:
    relay = RecordingRelay()
    outbox, ledger, _ = publisher(relay)
    ledger.outbox["k3"] = entry(3, timedelta(minutes=3), trace="projects/p/traces/x")
    assert outbox.sweep(NOW, older_than=timedelta(seconds=90), limit=10) == 2
    assert [key for key, _ in relay.published] == ["k3", "k2"]
    assert relay.traces == ["projects/p/traces/x", None]
    assert ledger.marked == ["k3", "k2"] and not ledger.outbox["k1"].published
    assert outbox.sweep(NOW, older_than=timedelta(seconds=90)) == 0


def test_a_sweep_that_cannot_publish_fails_and_marks_nothing() -> None:
    outbox, ledger, _ = publisher(RecordingRelay(fail=True))
    with pytest.raises(ConnectionError):
        outbox.sweep(NOW)
    assert ledger.marked == []
