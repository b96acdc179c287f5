"""Pub/Sub publishing with per-subscription ordering."""

from __future__ import annotations

import time
from collections.abc import Mapping

from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from refrain.settings import CloudSettings


def build_publisher(settings: CloudSettings) -> pubsub_v1.PublisherClient:
    del settings  # PUBSUB_EMULATOR_HOST is read by the library itself.
    return pubsub_v1.PublisherClient(
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
    )


def build_subscriber(settings: CloudSettings) -> pubsub_v1.SubscriberClient:
    del settings
    return pubsub_v1.SubscriberClient()


class OrderedPublisher:
    """Publishes domain messages; an ordering key is always the subscription id.

    After a failed publish the client pauses that ordering key; we resume it so
    the next attempt (the outbox relay's retry) can go through.
    """

    def __init__(
        self, client: pubsub_v1.PublisherClient, project: str, timeout_s: float = 8.0
    ) -> None:
        self._client = client
        self._project = project
        self.timeout_s = timeout_s

    def topic_path(self, topic: str) -> str:
        return str(self._client.topic_path(self._project, topic))

    def publish(
        self,
        topic: str,
        data: bytes,
        attributes: Mapping[str, str],
        ordering_key: str = "",
        timeout_s: float | None = None,
    ) -> str:
        return self.publish_many(topic, [(data, attributes, ordering_key)], timeout_s)[0]

    def publish_many(
        self,
        topic: str,
        messages: list[tuple[bytes, Mapping[str, str], str]],
        timeout_s: float | None = None,
    ) -> list[str]:
        """Hand every message to the client first, then wait once: one batch, kept in order.

        ``timeout_s`` bounds the whole batch, so an outage costs the caller that long
        at most (the client may still deliver it later; consumers deduplicate).
        """
        futures = [
            self._client.publish(self.topic_path(topic), data, ordering_key=key, **dict(attrs))
            for data, attrs, key in messages
        ]
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        try:
            return [str(f.result(timeout=max(0.0, deadline - time.monotonic()))) for f in futures]
        except Exception:
            for _, _, key in messages:
                if key:
                    self._client.resume_publish(self.topic_path(topic), key)
            raise


def build_ordered_publisher(settings: CloudSettings) -> OrderedPublisher:
    return OrderedPublisher(build_publisher(settings), settings.project, settings.publish_timeout_s)
