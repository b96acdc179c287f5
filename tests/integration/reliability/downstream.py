"""Downstream of the webhook storm: every consumer gets every message three times, shuffled.

Pub/Sub delivers at least once, so after the webhook storm every message the
webhook (and later the renewal worker) published is taken off its real
subscription (``receipt-email``, ``churn-export``, ``renewal-charge``; in the
emulator a push subscription without an endpoint is a pull queue) and handed
to its consumer ``copies`` times in random order, ``workers`` at a time:

* receipts: the ``receipt_email`` function's own service and filter, per message;
* churn rows: the real batch flush (pull, MERGE on ``signal_id``, ack). The copies
  are re-published onto a side topic the flushes drain, so duplicates reach the
  exporter both across and within batches, as a redelivery or a sweep re-publish would;
* renewal charges: the real charge worker with the sandbox gateway.

A consumer that raises (``RetryLater``: customer or original invoice not there
yet, send lease held; a gateway timeout) is redelivered in a later round,
bounded like ``max_delivery_attempts``.
"""

from __future__ import annotations

import contextlib
import io
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from google.api_core.exceptions import AlreadyExists

from refrain.adapters.bigquery_signals import SubscriptionPuller
from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import SUBSCRIPTIONS
from refrain.adapters.pubsub import OrderedPublisher, build_publisher, build_subscriber
from refrain.bootstrap import build_exporter, build_flush
from refrain.churn.flush import flush
from refrain.churn.rows import SignalRow
from refrain.domain import ManualClock, from_pubsub_message
from refrain.observability import get_logger
from refrain.push_envelope import PushMessage
from refrain.renewals.gateway import GatewayRouter
from refrain.renewals.messages import ChargeMessage
from refrain.renewals.sandbox import SandboxGateway
from refrain.settings import CloudSettings
from refrain.topology import CHURN_EXPORT_SUBSCRIPTION, RECEIPT_EVENT_TYPES
from refrain_tools.renewals.inline import build_renewals
from tests.integration.reliability.storm import in_rounds
from tests.support import load_function, pull_messages

RECEIPT_SUBSCRIPTION = "receipt-email"
CHARGE_SUBSCRIPTION = "renewal-charge"
COPIES_TOPIC = "storm-churn-copies"  # side queue: the duplicated churn messages
T = TypeVar("T")


@dataclass(frozen=True)
class Pulled:
    """One message as a subscription handed it out."""

    message_id: str
    data: bytes
    attributes: dict[str, str]
    ordering_key: str


def drain(
    cloud: CloudSettings, subscription: str, expected: int, *, timeout_s: float = 60.0
) -> list[Pulled]:
    """Pull and ack until ``expected`` distinct messages came; a redelivered one counts once."""

    def enough(got: list[Any]) -> bool:
        return len({m.message_id for m in got}) >= expected

    got: dict[str, Pulled] = {}
    for m in pull_messages(cloud, subscription, enough, timeout_s=timeout_s, max_messages=1000):
        got.setdefault(
            m.message_id, Pulled(m.message_id, bytes(m.data), dict(m.attributes), m.ordering_key)
        )
    return list(got.values())


@dataclass
class StageStats:
    """How one consumer stage went: first deliveries, redeliveries, outcomes."""

    name: str
    messages: int
    deliveries: int = 0
    attempts: int = 0
    rounds: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    gave_up: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"{self.name}: {self.messages} messages, {self.deliveries} deliveries "
            f"({self.deliveries - self.messages} duplicates), {self.attempts} attempts over "
            f"{self.rounds} rounds, gave up {self.gave_up}, {self.seconds:.1f} s; "
            f"outcomes {dict(sorted(self.outcomes.items()))}"
        )


def deliver_rounds(
    name: str,
    items: Sequence[T],
    handle: Callable[[T], str],
    *,
    copies: int,
    workers: int,
    rng: random.Random | None,
    max_rounds: int = 10,
) -> StageStats:
    """Each item ``copies`` times (shuffled when ``rng``); what raises comes back next round."""

    def attempt(item: T) -> str:
        try:
            return handle(item)
        except Exception as exc:  # Pub/Sub redelivers whatever the consumer raises
            return f"!{type(exc).__name__}"

    pending = [item for item in items for _ in range(copies)]
    run = in_rounds(
        pending, attempt, lambda answer: not answer.startswith("!"),
        workers=workers, shuffle=rng, max_rounds=max_rounds, name=name,
    )  # fmt: skip
    return StageStats(
        name, len(items), deliveries=len(pending), attempts=run.attempts, rounds=run.rounds,
        outcomes=run.answers, gave_up=run.left, seconds=run.seconds,
    )  # fmt: skip


# -- receipts -------------------------------------------------------------------------------


def receipt_consumer() -> Callable[[Pulled], str]:
    """What ``functions/receipt_email`` does with a message, returning its outcome."""
    module = load_function("receipt_email")
    module.service.cache_clear()  # built from this run's environment
    service = module.service()

    def handle(message: Pulled) -> str:
        declared = message.attributes.get("type")
        if declared is not None and declared not in RECEIPT_EVENT_TYPES:
            return "ignored"
        event = from_pubsub_message(message.data, message.attributes)  # as the function does
        if event.type.value not in RECEIPT_EVENT_TYPES:
            return "ignored"
        result = service.handle(event)  # RetryLater / DomainError raise: redelivered
        return f"{result.kind}:{result.outcome}"

    return handle


def receipt_storm(
    cloud: CloudSettings, pulled: Sequence[Pulled], *, copies: int, workers: int, seed: int
) -> StageStats:
    rng = random.Random(seed) if copies > 1 else None
    return deliver_rounds(
        "receipts", pulled, receipt_consumer(), copies=copies, workers=workers, rng=rng
    )


# -- churn export ---------------------------------------------------------------------------


@dataclass
class ChurnStats:
    stage: StageStats
    signals: set[str] = field(default_factory=set)  # distinct signal ids the messages carry
    exported: int = 0  # rows offered to the MERGE (duplicates included)
    inserted: int = 0  # rows the MERGE inserted
    skipped: int = 0
    poison: int = 0
    flushes: int = 0

    def line(self) -> str:
        return (
            f"{self.stage.line()}; {self.flushes} flushes, {len(self.signals)} distinct "
            f"signals, offered {self.exported}, inserted {self.inserted}, found already "
            f"there {self.exported - self.inserted}, skipped {self.skipped}, poison {self.poison}"
        )


def expected_signals(cloud: CloudSettings, pulled: Sequence[Pulled]) -> set[str]:
    """The signal ids the exporter derives from these messages (pure transform, no write)."""
    exporter = build_exporter(cloud)
    out: set[str] = set()
    for m in pulled:
        row = exporter.classify(PushMessage(m.data, m.attributes, m.message_id))
        if isinstance(row, SignalRow):
            out.add(row.signal_id)
    return out


def _copies_queue(cloud: CloudSettings) -> None:
    publisher, subscriber = build_publisher(cloud), build_subscriber(cloud)
    topic = publisher.topic_path(cloud.project, COPIES_TOPIC)
    try:
        with contextlib.suppress(AlreadyExists):
            publisher.create_topic(request={"name": topic})
        path = subscriber.subscription_path(cloud.project, COPIES_TOPIC)
        with contextlib.suppress(AlreadyExists):
            subscriber.create_subscription(
                request={"name": path, "topic": topic, "ack_deadline_seconds": 60}
            )
    finally:
        subscriber.close()


@dataclass
class _ShortWait:
    """The real puller, waiting 2 s instead of 10 on an idle queue (the storm's tail)."""

    puller: SubscriptionPuller

    def pull(self, max_messages: int) -> list[tuple[str, PushMessage]]:
        return self.puller.pull(max_messages, timeout_s=2.0)

    def ack(self, ack_ids: Sequence[str]) -> None:
        self.puller.ack(ack_ids)

    def nack(self, ack_ids: Sequence[str]) -> None:
        self.puller.nack(ack_ids)

    def close(self) -> None:
        self.puller.close()


def churn_storm(
    cloud: CloudSettings,
    pulled: Sequence[Pulled],
    *,
    copies: int,
    workers: int,
    seed: int,
    batch: int = 0,
    timeout_s: float = 900.0,
) -> ChurnStats:
    """Re-publish every message ``copies`` times, shuffled, then ``workers`` concurrent
    flushes (the deployed export path) drain the copies ``batch`` messages at a time
    (default: about two batches per worker, 50..2000 messages each)."""
    stats = ChurnStats(StageStats("churn export", len(pulled), deliveries=len(pulled) * copies))
    stats.signals = expected_signals(cloud, pulled)
    started = time.perf_counter()
    _copies_queue(cloud)
    batch_of = [(m.data, m.attributes, "") for m in pulled for _ in range(copies)]
    random.Random(seed).shuffle(batch_of)
    publisher = OrderedPublisher(build_publisher(cloud), cloud.project)
    for start in range(0, len(batch_of), 500):
        publisher.publish_many(COPIES_TOPIC, list(batch_of[start : start + 500]))
    target, lock = len(batch_of), threading.Lock()
    batch = batch or max(50, min(2000, -(-target // (workers * 2))))  # ~2 batches per worker
    deadline = time.monotonic() + timeout_s

    def flusher() -> None:
        built = build_flush(COPIES_TOPIC, cloud)
        puller = _ShortWait(cast(SubscriptionPuller, built.queue))
        try:
            while time.monotonic() < deadline:
                with lock:
                    if stats.stage.attempts >= target:
                        return
                report = flush(puller, built.exporter, batch)
                with lock:
                    stats.flushes += 1
                    stats.stage.attempts += len(report.done)
                    stats.exported += report.exported
                    stats.inserted += report.inserted
                    stats.skipped += report.skipped
                    stats.poison += len(report.poison)
                    stats.stage.outcomes["done"] += len(report.done)
                if not report.done:
                    time.sleep(0.2)
        finally:
            built.close()

    with ThreadPoolExecutor(workers, thread_name_prefix="flush") as pool:
        for future in [pool.submit(flusher) for _ in range(workers)]:
            future.result()
    stats.stage.rounds = 1
    stats.stage.gave_up = max(0, target - stats.stage.attempts)
    stats.stage.seconds = time.perf_counter() - started
    return stats


def churn_in_order(cloud: CloudSettings, pulled: Sequence[Pulled]) -> ChurnStats:
    """The reference: every message once, one flush at a time (re-published once, in order)."""
    return churn_storm(cloud, pulled, copies=1, workers=1, seed=0, batch=500)


# -- renewals -------------------------------------------------------------------------------


@dataclass
class RenewalStats:
    stage: StageStats
    due: int
    published: int
    sandbox: SandboxGateway
    methods: dict[str, str]  # subscription -> payment method ref of the due ones

    def charges_by_subscription(self) -> dict[str, int]:
        """Money movements per due subscription (0 listed too)."""
        out = dict.fromkeys(self.methods, 0)
        for (sid, _), n in self.sandbox.successes.items():
            out[sid] = out.get(sid, 0) + n
        return out

    def line(self) -> str:
        per_period = Counter(self.sandbox.successes.values())
        return (
            f"{self.stage.line()}; tick: due {self.due}, published {self.published}; gateway: "
            f"{sum(self.sandbox.calls.values())} calls, {len(self.sandbox.calls)} keys, "
            f"{self.sandbox.charges} charges; charges per period {dict(sorted(per_period.items()))}"
        )


def renewal_storm(
    cloud: CloudSettings, at: datetime, *, copies: int, workers: int, seed: int
) -> RenewalStats:
    """The real tick at ``at``, then each renewal-charge message ``copies`` times to the worker."""
    clock, sandbox = ManualClock(at), SandboxGateway()
    renewals = build_renewals(
        cloud,
        clock=clock,
        gateways=GatewayRouter({}, default=sandbox),
        log=get_logger("renewal_trigger", io.StringIO()),
    )
    started = time.perf_counter()
    report = renewals.tick.run()
    pulled = drain(cloud, CHARGE_SUBSCRIPTION, report.published)
    messages = [ChargeMessage.decode(m.data) for m in pulled]
    rng = random.Random(seed) if copies > 1 else None
    stage = deliver_rounds(
        "renewal charges",
        messages,
        lambda m: renewals.worker.handle(m).outcome,
        copies=copies,
        workers=workers,
        rng=rng,
    )
    stage.seconds = time.perf_counter() - started
    db = build_firestore(cloud)
    methods: dict[str, str] = {}
    for m in messages:
        doc = db.collection(SUBSCRIPTIONS).document(m.subscription_id).get().to_dict() or {}
        methods[m.subscription_id] = str(doc.get("payment_method_ref"))
    return RenewalStats(stage, report.due, report.published, sandbox, methods)


__all__ = [
    "CHURN_EXPORT_SUBSCRIPTION",
    "RECEIPT_SUBSCRIPTION",
    "ChurnStats",
    "Pulled",
    "RenewalStats",
    "StageStats",
    "churn_in_order",
    "churn_storm",
    "deliver_rounds",
    "drain",
    "receipt_storm",
    "renewal_storm",
]
