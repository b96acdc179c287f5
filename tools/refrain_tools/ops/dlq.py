"""Dead letters: what is held, and putting it back where it came from.

Every consumer subscription in the topology dead-letters into
`{subscription}-dead-letter` after its bounded retries, and a hold pull
subscription (`dead_letter_hold_subscription`) keeps those messages until an
operator looks. `peek` reads them without acknowledging (they stay held);
`replay` publishes each one again to the ORIGINAL topic of its source
subscription, with the same data and ordering key, its attributes minus the
`CloudPubSubDeadLetter*` ones Pub/Sub added, plus `replay_for=<subscription>`,
and only then acknowledges it on the hold subscription.

A topic may feed several subscriptions (subscription-events feeds both
receipt-email and churn-export), so a replayed message reaches every one of
them again. That is safe because every consumer is idempotent (invariant 8:
they deduplicate on event_id); `replay_for` names the subscription that
failed, for consumers or logs that want to tell a replay from a first
delivery. A crash between publish and ack replays that message once more on
the next run: harmless for the same reason.

Summaries carry attributes, times and sizes only, never the payload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.api_core.exceptions import DeadlineExceeded
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from refrain.adapters.pubsub import OrderedPublisher
from refrain.topology import TOPOLOGY, Topology, dead_letter_hold_subscription

DEAD_LETTER_PREFIX = "CloudPubSubDeadLetter"
SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
SOURCE_DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"
SOURCE_PUBLISH_TIME = "CloudPubSubDeadLetterSourceTopicPublishTime"
REPLAY_FOR = "replay_for"
SHOWN_ATTRIBUTES = ("type", "event_id", "subscription_id")


@dataclass(frozen=True, slots=True)
class DeadLetterRoute:
    """One consumer subscription: where it reads, where it dead-letters, where those wait."""

    subscription: str
    topic: str
    dead_letter_topic: str
    hold: str


def routes(topology: Topology = TOPOLOGY, only: str | None = None) -> list[DeadLetterRoute]:
    """Every route, or the one whose dead-letter topic, subscription or hold is `only`."""
    found = [
        DeadLetterRoute(
            s.name, s.topic, s.dead_letter_topic, dead_letter_hold_subscription(s.dead_letter_topic)
        )
        for s in topology.subscriptions
    ]
    if only is None:
        return found
    chosen = [r for r in found if only in (r.dead_letter_topic, r.subscription, r.hold)]
    if not chosen:
        names = ", ".join(r.dead_letter_topic for r in found)
        raise LookupError(f"no dead-letter topic {only!r}; known: {names}")
    return chosen


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    ack_id: str
    data: bytes
    attributes: Mapping[str, str]
    ordering_key: str
    publish_time: datetime | None

    @property
    def source_publish_time(self) -> str:
        """When it was first published (Pub/Sub's attribute), for replay order."""
        fallback = self.publish_time.isoformat() if self.publish_time else ""
        return self.attributes.get(SOURCE_PUBLISH_TIME, fallback)

    def summary(self) -> dict[str, Any]:
        """Attributes, times and size: what an operator may see (no payload)."""
        attrs = self.attributes
        return {
            "message_id": self.message_id,
            "publish_time": self.publish_time.isoformat() if self.publish_time else None,
            "size": len(self.data),
            "ordering_key": self.ordering_key or None,
            **{name: attrs.get(name) for name in SHOWN_ATTRIBUTES},
            "source_subscription": attrs.get(SOURCE_SUBSCRIPTION),
            "source_delivery_count": attrs.get(SOURCE_DELIVERY_COUNT),
            "source_publish_time": attrs.get(SOURCE_PUBLISH_TIME),
        }


def replay_attributes(attributes: Mapping[str, str], route: DeadLetterRoute) -> dict[str, str]:
    """The original attributes (Pub/Sub's dead-letter ones removed), marked as a replay."""
    kept = {k: v for k, v in attributes.items() if not k.startswith(DEAD_LETTER_PREFIX)}
    return {**kept, REPLAY_FOR: route.subscription}


def replay_order(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    """Oldest first, so messages of one ordering key go back in their original order."""
    return sorted(letters, key=lambda m: (m.source_publish_time, m.message_id))


@dataclass(frozen=True, slots=True)
class ReplayReport:
    route: DeadLetterRoute
    letters: list[DeadLetter]
    published_ids: list[str]
    dry_run: bool


@dataclass
class DeadLetterQueue:
    subscriber: pubsub_v1.SubscriberClient
    publisher: OrderedPublisher
    project: str
    pull_timeout_s: float = 2.0

    def _path(self, route: DeadLetterRoute) -> str:
        return str(self.subscriber.subscription_path(self.project, route.hold))

    def _pull(self, route: DeadLetterRoute, limit: int) -> list[DeadLetter]:
        """Lease up to `limit` held messages (each once); the caller acks or releases them."""
        path = self._path(route)
        seen: dict[str, DeadLetter] = {}
        while len(seen) < limit:
            try:
                response = self.subscriber.pull(
                    request={"subscription": path, "max_messages": min(100, limit - len(seen))},
                    timeout=self.pull_timeout_s,
                )
            except DeadlineExceeded:  # the emulator's answer for "nothing there"
                break
            batch = list(response.received_messages)
            if not batch:
                break
            for received in batch:
                msg = received.message
                seen.setdefault(
                    msg.message_id,
                    DeadLetter(
                        message_id=msg.message_id,
                        ack_id=received.ack_id,
                        data=bytes(msg.data),
                        attributes=dict(msg.attributes),
                        ordering_key=msg.ordering_key,
                        publish_time=msg.publish_time if msg.publish_time else None,
                    ),
                )
        return list(seen.values())

    def _release(self, route: DeadLetterRoute, letters: list[DeadLetter]) -> None:
        """Give the leases back at once (deadline 0): the messages stay held."""
        if letters:
            self.subscriber.modify_ack_deadline(
                request={
                    "subscription": self._path(route),
                    "ack_ids": [m.ack_id for m in letters],
                    "ack_deadline_seconds": 0,
                }
            )

    def peek(self, route: DeadLetterRoute, limit: int = 100) -> list[DeadLetter]:
        letters = self._pull(route, limit)
        self._release(route, letters)
        return replay_order(letters)

    def replay(
        self, route: DeadLetterRoute, limit: int = 100, dry_run: bool = False
    ) -> ReplayReport:
        letters = replay_order(self._pull(route, limit))
        if dry_run or not letters:
            self._release(route, letters)
            return ReplayReport(route, letters, [], dry_run)
        published: list[str] = []
        try:
            for letter in letters:  # one at a time: an ordering key's order is kept
                published.append(
                    self.publisher.publish(
                        route.topic,
                        letter.data,
                        replay_attributes(letter.attributes, route),
                        ordering_key=letter.ordering_key,
                    )
                )
                self.subscriber.acknowledge(
                    request={"subscription": self._path(route), "ack_ids": [letter.ack_id]}
                )
        finally:
            self._release(route, letters[len(published) :])
        return ReplayReport(route, letters, published, dry_run)
