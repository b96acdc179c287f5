"""Create the declared topology in Pub/Sub, BigQuery and SES.

Used against the local stack; Terraform declares the same topology in the
cloud and a test keeps the two in step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from google.api_core.exceptions import AlreadyExists, NotFound
from google.cloud import pubsub_v1  # type: ignore[attr-defined]
from google.protobuf import duration_pb2

from refrain.topology import Subscription, Topology, dead_letter_hold_subscription


def subscription_request(
    project: str, sub: Subscription, push_endpoints: Mapping[str, str]
) -> dict[str, Any]:
    """The CreateSubscription request for one declared subscription."""
    request: dict[str, Any] = {
        "name": f"projects/{project}/subscriptions/{sub.name}",
        "topic": f"projects/{project}/topics/{sub.topic}",
        "ack_deadline_seconds": sub.ack_deadline_s,
        "enable_message_ordering": sub.ordering,
        "dead_letter_policy": {
            "dead_letter_topic": f"projects/{project}/topics/{sub.dead_letter_topic}",
            "max_delivery_attempts": sub.max_delivery_attempts,
        },
        "retry_policy": {
            "minimum_backoff": duration_pb2.Duration(seconds=sub.min_backoff_s),
            "maximum_backoff": duration_pb2.Duration(seconds=sub.max_backoff_s),
        },
    }
    if sub.filter:
        request["filter"] = sub.filter
    if sub.push is not None and sub.push.function in push_endpoints:
        base = push_endpoints[sub.push.function].rstrip("/")
        request["push_config"] = {"push_endpoint": base + sub.push.path}
    return request


def provision_pubsub(
    project: str,
    topology: Topology,
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    push_endpoints: Mapping[str, str] | None = None,
) -> None:
    """Create topics, consumer subscriptions and a hold subscription per dead-letter topic.

    A subscription whose function has no endpoint in `push_endpoints` is created
    as a pull subscription, which is what tests drive directly.
    """
    for topic in topology.topics:
        with contextlib.suppress(AlreadyExists):
            publisher.create_topic(request={"name": f"projects/{project}/topics/{topic.name}"})
    for sub in topology.subscriptions:
        with contextlib.suppress(AlreadyExists):
            subscriber.create_subscription(
                request=subscription_request(project, sub, push_endpoints or {})
            )
        hold = dead_letter_hold_subscription(sub.dead_letter_topic)
        with contextlib.suppress(AlreadyExists):
            subscriber.create_subscription(
                request={
                    "name": f"projects/{project}/subscriptions/{hold}",
                    "topic": f"projects/{project}/topics/{sub.dead_letter_topic}",
                    "ack_deadline_seconds": 60,
                }
            )


def wipe_pubsub(
    project: str, publisher: pubsub_v1.PublisherClient, subscriber: pubsub_v1.SubscriberClient
) -> None:
    """Delete every subscription and topic of the project (emulator reset)."""
    for sub in subscriber.list_subscriptions(request={"project": f"projects/{project}"}):
        with contextlib.suppress(NotFound):
            subscriber.delete_subscription(request={"subscription": sub.name})
    for topic in publisher.list_topics(request={"project": f"projects/{project}"}):
        with contextlib.suppress(NotFound):
            publisher.delete_topic(request={"topic": topic.name})
