"""Outbox relay: publish committed domain events to `subscription-events`.

Called right after a commit (the fast path) and by a scheduled sweep for
entries a crash left unpublished. Publishing twice is possible (a crash after
publish, before the mark) and harmless: every consumer deduplicates by
event_id. Losing an event is not possible: the mark is only set after Pub/Sub
accepted every event of the entry.

The trace of the request that wrote the entry (stored on it) goes on every
message as the ``trace`` attribute, on the fast path and from the sweep alike,
so the consumers' log lines join the webhook's in Cloud Logging.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from google.cloud import firestore

from refrain.adapters.firestore_ledger import events_of, trace_of
from refrain.adapters.pubsub import OrderedPublisher
from refrain.collections import OUTBOX
from refrain.domain.events import DomainEvent, to_pubsub_message
from refrain.observability import TRACE_ATTRIBUTE
from refrain.topology import SUBSCRIPTION_EVENTS


@dataclass
class PubSubRelay:
    publisher: OrderedPublisher
    topic: str = SUBSCRIPTION_EVENTS
    # Test-only fault injection: raise before publishing (a crash between commit and publish).
    crash_before_publish: Callable[[], None] | None = None

    def publish(
        self, outbox_id: str, events: tuple[DomainEvent, ...], trace: str | None = None
    ) -> bool:
        if self.crash_before_publish is not None:
            self.crash_before_publish()
        messages = [to_pubsub_message(event) for event in events]
        extra = {TRACE_ATTRIBUTE: trace} if trace else {}
        self.publisher.publish_many(
            self.topic, [(m.data, {**m.attributes, **extra}, m.ordering_key) for m in messages]
        )
        return True


def sweep_outbox(
    db: firestore.Client,
    relay: PubSubRelay,
    now: datetime,
    older_than: timedelta = timedelta(seconds=30),
    limit: int = 200,
) -> int:
    """Publish entries left unpublished for longer than `older_than`; return how many."""
    query = (
        db.collection(OUTBOX)
        .where(filter=firestore.FieldFilter("published", "==", False))
        .where(filter=firestore.FieldFilter("created_at", "<=", now - older_than))
        .order_by("created_at")
        .limit(limit)
    )
    done = 0
    for snap in query.stream():
        record = snap.to_dict() or {}
        relay.publish(snap.id, events_of(record), trace=trace_of(record))
        snap.reference.update({"published": True, "published_at": now, "swept": True})
        done += 1
    return done
