"""The relay behind refrain.outbox.EventRelay: an outbox entry's events to `subscription-events`.

The OutboxPublisher calls it right after a commit (the fast path) and from the
scheduled sweep for entries a crash left unpublished.

The trace of the request that wrote the entry (stored on it) goes on every
message as the ``trace`` attribute, on the fast path and from the sweep alike,
so the consumers' log lines join the webhook's in Cloud Logging.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from refrain.adapters.pubsub import OrderedPublisher
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
