"""Ordered publishing, and dead-lettering after the retry limit, on the emulator."""

from __future__ import annotations

import dataclasses
import time

import pytest
from google.api_core.exceptions import DeadlineExceeded
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from refrain.adapters.pubsub import OrderedPublisher, build_publisher, build_subscriber
from refrain.settings import CloudSettings
from refrain.topology import (
    SUBSCRIPTION_EVENTS,
    TOPOLOGY,
    dead_letter_hold_subscription,
)
from refrain_tools.stack.provision import subscription_request


def _pull_once(
    subscriber: pubsub_v1.SubscriberClient, path: str, max_messages: int = 50
) -> list[pubsub_v1.types.ReceivedMessage]:
    """One pull; an empty subscription answers with a deadline, which means none."""
    try:
        response = subscriber.pull(
            request={"subscription": path, "max_messages": max_messages}, timeout=5
        )
    except DeadlineExceeded:
        return []
    return list(response.received_messages)


def _pull(
    subscriber: pubsub_v1.SubscriberClient, path: str, want: int, ack: bool = True
) -> list[pubsub_v1.types.ReceivedMessage]:
    got: list[pubsub_v1.types.ReceivedMessage] = []
    deadline = time.monotonic() + 30
    while len(got) < want and time.monotonic() < deadline:
        batch = _pull_once(subscriber, path)
        got.extend(batch)
        if ack and batch:
            subscriber.acknowledge(
                request={"subscription": path, "ack_ids": [m.ack_id for m in batch]}
            )
    return got


def test_messages_with_one_ordering_key_arrive_in_publish_order(cloud: CloudSettings) -> None:
    publisher = OrderedPublisher(build_publisher(cloud), cloud.project)
    for i in range(20):
        key = f"sub-{i % 2}"
        publisher.publish(SUBSCRIPTION_EVENTS, str(i).encode(), {"type": "t"}, ordering_key=key)
    subscriber = build_subscriber(cloud)
    path = subscriber.subscription_path(cloud.project, "receipt-email")
    received = _pull(subscriber, path, want=20)
    by_key: dict[str, list[int]] = {}
    for msg in received:
        by_key.setdefault(msg.message.ordering_key, []).append(int(msg.message.data))
        assert msg.message.attributes["type"] == "t"
    assert by_key == {"sub-0": list(range(0, 20, 2)), "sub-1": list(range(1, 20, 2))}


@pytest.mark.timeout(120)
def test_a_message_nacked_past_its_retry_limit_lands_on_the_dead_letter_topic(
    cloud: CloudSettings,
) -> None:
    # The emulator dead-letters only on subscriptions without message ordering (with
    # ordering it stops redelivering and keeps the key blocked), so this proves the
    # declared policy on the unordered renewal-tick subscription. Ordered consumers
    # forward poison messages themselves; see their own tests.
    declared = next(s for s in TOPOLOGY.subscriptions if s.name == "renewal-tick")
    assert not declared.ordering
    # Same declared policy, with the retry backoff shortened so the test runs in seconds.
    fast = dataclasses.replace(
        declared, name="renewal-tick-fast", max_delivery_attempts=5, min_backoff_s=0,
        max_backoff_s=0,
    )  # fmt: skip
    subscriber = build_subscriber(cloud)
    subscriber.create_subscription(request=subscription_request(cloud.project, fast, {}))
    OrderedPublisher(build_publisher(cloud), cloud.project).publish(
        declared.topic, b"poison", {"type": "renewal.tick"}
    )
    path = subscriber.subscription_path(cloud.project, fast.name)
    # The declared dead-letter topic, read through the hold subscription provisioning made.
    hold = subscriber.subscription_path(
        cloud.project, dead_letter_hold_subscription(fast.dead_letter_topic)
    )
    attempts = 0
    deadline = time.monotonic() + 60
    while attempts < fast.max_delivery_attempts and time.monotonic() < deadline:
        for msg in _pull_once(subscriber, path, max_messages=1):
            attempts += 1
            assert msg.delivery_attempt == attempts
            subscriber.modify_ack_deadline(
                request={"subscription": path, "ack_ids": [msg.ack_id], "ack_deadline_seconds": 0}
            )
    # The emulator forwards on the next delivery it would make; real Pub/Sub does it by itself.
    assert _pull_once(subscriber, path) == []
    dead = _pull(subscriber, hold, want=1)
    assert attempts == fast.max_delivery_attempts
    assert [m.message.data for m in dead] == [b"poison"]
    assert dead[0].message.attributes["type"] == "renewal.tick"
