"""The scheduled outbox sweep, wired from the environment."""

from __future__ import annotations

from refrain.adapters.firestore import build_firestore
from refrain.adapters.pubsub import build_ordered_publisher
from refrain.adapters.pubsub_relay import PubSubRelay, sweep_outbox
from refrain.domain.clock import SystemClock
from refrain.observability import get_logger
from refrain.settings import CloudSettings


def sweep_from_environment() -> int:
    settings = CloudSettings()
    relay = PubSubRelay(build_ordered_publisher(settings))
    swept = sweep_outbox(build_firestore(settings), relay, SystemClock().now())
    get_logger("outbox_sweep").info("outbox swept", published_entries=swept)
    return swept
