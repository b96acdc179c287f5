"""Poison messages: bounded attempts, the dead-letter topic, and `refrain dlq replay`.

The churn export's pull subscription is unordered, so the emulator applies its
dead-letter policy (it does not on ordered subscriptions: README "Known emulator
limits"). A copy of the declared ``churn-export`` subscription with the backoff
shortened to 0 stands in for it so the test runs in seconds; everything else
(dead-letter topic, 5 attempts, the hold subscription, the CLI) is the real one.

Ordered push consumers (``receipt-email``, ``renewal-charge``): the emulator stops
redelivering a nacked ordered message and keeps its key blocked instead of
dead-lettering it, so this cannot be shown locally. In Google Cloud the
dead-letter policy applies to ordered subscriptions too: after
``max_delivery_attempts`` the message is forwarded to the dead-letter topic
(best effort, the delivery count is approximate) and the key moves on; the
same `refrain dlq replay` brings it back. Both consumers are idempotent, so a
replay after a partial success does not repeat the side effect.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from refrain.adapters.bigquery import build_bigquery
from refrain.adapters.bigquery_signals import SubscriptionPuller
from refrain.adapters.pubsub import OrderedPublisher, build_publisher, build_subscriber
from refrain.bootstrap import build_flush
from refrain.churn.export import ChurnExporter, PoisonMessage
from refrain.churn.flush import BatchFlush, flush
from refrain.churn.rows import SignalRow
from refrain.churn.transform import Skip
from refrain.domain.events import EventType, to_pubsub_message
from refrain.push_envelope import PushMessage
from refrain.settings import CloudSettings
from refrain.topology import (
    ANALYTICS_DATASET,
    CHURN_EXPORT_SUBSCRIPTION,
    SUBSCRIPTION_EVENTS,
    TOPOLOGY,
)
from refrain_tools.cli import main
from refrain_tools.stack.provision import subscription_request
from tests.unit.churn.factory import sample_event

FAST = "churn-export-fast"
DEAD_LETTER = "churn-export-dead-letter"


class BrokenRelease(ChurnExporter):
    """A consumer release with a bug: it cannot read Brazilian events (poison to it)."""

    def classify(self, message: PushMessage) -> SignalRow | Skip:
        if b'"market":"BR"' in message.data.replace(b" ", b""):
            raise PoisonMessage("market BR unsupported (the bug)")
        return super().classify(message)


class QuickPuller(SubscriptionPuller):
    """The flush's puller with a 2 s idle wait instead of 10 s (test speed only)."""

    def pull(self, max_messages: int, timeout_s: float = 2.0) -> list[tuple[str, PushMessage]]:
        return super().pull(max_messages, timeout_s)


@pytest.fixture
def fast_flush(cloud: CloudSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[BatchFlush]:
    monkeypatch.delenv("REFRAIN_SUBSCRIBER_PEPPER", raising=False)
    declared = next(s for s in TOPOLOGY.subscriptions if s.name == CHURN_EXPORT_SUBSCRIPTION)
    assert not declared.ordering and declared.dead_letter_topic == DEAD_LETTER
    fast = dataclasses.replace(declared, name=FAST, min_backoff_s=0, max_backoff_s=0)
    subscriber = build_subscriber(cloud)
    path = subscriber.subscription_path(cloud.project, FAST)
    subscriber.create_subscription(request=subscription_request(cloud.project, fast, {}))
    batch = BatchFlush(build_flush(FAST, cloud).exporter, QuickPuller(cloud.project, FAST))
    try:
        yield batch
    finally:
        batch.close()
        subscriber.delete_subscription(request={"subscription": path})
        subscriber.close()


def _rows(cloud: CloudSettings) -> list[str]:
    sql = f"SELECT market FROM `{cloud.project}.{ANALYTICS_DATASET}.churn_signals`"
    return sorted(str(r["market"]) for r in build_bigquery(cloud).query(sql).result())


def _held(cloud: CloudSettings) -> int:
    result = CliRunner().invoke(main, ["dlq", "list", "--topic", DEAD_LETTER, "--json"])
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)[DEAD_LETTER]["count"])


@pytest.mark.timeout(90)
def test_poison_dead_letters_after_bounded_attempts_and_replays_once_fixed(
    cloud: CloudSettings, fast_flush: BatchFlush
) -> None:
    declared = next(s for s in TOPOLOGY.subscriptions if s.name == CHURN_EXPORT_SUBSCRIPTION)
    publisher = OrderedPublisher(build_publisher(cloud), cloud.project)
    for i, market in enumerate(["SE", "DE", "BR", "GB"]):
        event = sample_event(
            EventType.ACTIVATED, subscription_id=f"sub_{market}", sequence=i + 1, market=market
        )
        m = to_pubsub_message(event)
        publisher.publish(SUBSCRIPTION_EVENTS, m.data, dict(m.attributes), m.ordering_key)

    broken = BrokenRelease(fast_flush.exporter._transformer, fast_flush.exporter._sink)
    poisoned = 0
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        report = flush(fast_flush.queue, broken, 100)
        poisoned += len(report.poison)
        if poisoned >= declared.max_delivery_attempts and not report.poison and _held(cloud):
            break
    assert _rows(cloud) == ["DE", "GB", "SE"]  # the healthy messages were not held up
    assert poisoned == declared.max_delivery_attempts  # bounded: 5 attempts, then no more
    assert _held(cloud) == 1  # on the dead-letter topic, held for the operator

    # The fix is deployed (the real exporter), then the operator replays.
    replay = CliRunner().invoke(main, ["dlq", "replay", "--topic", DEAD_LETTER])
    assert replay.exit_code == 0 and "replayed 1" in replay.stdout, replay.output
    assert _held(cloud) == 0
    done = 0
    deadline = time.monotonic() + 20
    while done < 1 and time.monotonic() < deadline:
        report = fast_flush(100)
        assert report.poison == []
        done += len(report.done)
    assert _rows(cloud) == ["BR", "DE", "GB", "SE"]  # the replayed one, exactly once
