"""Run renewals inline: tick, then work every message in-process, until nothing is due.

What Pub/Sub does in the cloud, done here for the CLI (`refrain renewals run`),
the simulation and the bench: messages go to a list instead of a topic, a
worker failure (GatewayUnavailable, contention) is a redelivery of the same
message, and ``duplicate=True`` runs every tick twice before any message is
worked, so every message is delivered twice. Like Pub/Sub with ordering keys,
messages of one subscription are delivered one after the other, different
subscriptions concurrently (``concurrency`` threads).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from refrain.bootstrap import build_charge_worker, build_tick
from refrain.clocks import clock_from_env
from refrain.domain.clock import Clock
from refrain.observability import Logger
from refrain.renewals.gateway import GatewayCharge, GatewayRouter
from refrain.renewals.messages import ChargeMessage
from refrain.renewals.tick import ChargeQueue, TickService
from refrain.renewals.worker import ChargeWorker, WorkerReport
from refrain.settings import CloudSettings


@dataclass
class InlineQueue:
    """A ChargeQueue that keeps the messages for the caller."""

    messages: list[ChargeMessage] = field(default_factory=list)

    def send(self, messages: Sequence[ChargeMessage]) -> None:
        self.messages.extend(messages)

    def take(self) -> list[ChargeMessage]:
        taken, self.messages = self.messages, []
        return taken


@dataclass
class RunReport:
    at: datetime
    rounds: int = 0
    due: int = 0
    deliveries: int = 0
    redeliveries: int = 0
    gave_up: int = 0  # still failing after max_redeliveries (Pub/Sub would retry, then DLQ)
    outcomes: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    reports: list[WorkerReport] = field(default_factory=list)


def _by_ordering_key(messages: list[ChargeMessage]) -> list[list[ChargeMessage]]:
    """Pub/Sub delivers one ordering key (subscription id) at a time, in publish order."""
    groups: dict[str, list[ChargeMessage]] = {}
    for message in messages:
        groups.setdefault(message.subscription_id, []).append(message)
    return list(groups.values())


@dataclass
class InlineRenewals:
    tick: TickService
    queue: InlineQueue
    worker: ChargeWorker
    clock: Clock
    concurrency: int = 1
    max_rounds: int = 10
    max_redeliveries: int = 5
    duplicate: bool = False

    def run(self) -> RunReport:
        report = RunReport(at=self.clock.now())
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            for _ in range(self.max_rounds):
                ticks = [self.tick.run() for _ in range(2 if self.duplicate else 1)]
                report.rounds += 1
                report.due += ticks[0].due
                messages = self.queue.take()
                if not messages:
                    break
                self.work(messages, report, pool)
        return report

    def work(
        self, messages: list[ChargeMessage], report: RunReport, pool: ThreadPoolExecutor
    ) -> None:
        """Deliver messages: one ordering key at a time, keys in parallel on ``pool``."""
        for results in pool.map(self._deliver_in_order, _by_ordering_key(messages)):
            for result in results:
                self._count(report, result)

    def _deliver_in_order(
        self, messages: list[ChargeMessage]
    ) -> list[tuple[list[WorkerReport], int, bool]]:
        return [self._deliver(m) for m in messages]

    def _deliver(self, message: ChargeMessage) -> tuple[list[WorkerReport], int, bool]:
        failures = 0
        while True:
            try:
                return [self.worker.handle(message)], failures, False
            except Exception:  # a nack: Pub/Sub redelivers the same message
                failures += 1
                if failures > self.max_redeliveries:
                    return [], failures, True

    @staticmethod
    def _count(report: RunReport, result: tuple[list[WorkerReport], int, bool]) -> None:
        reports, failures, gave_up = result
        report.deliveries += len(reports) + failures
        report.redeliveries += failures
        report.gave_up += int(gave_up)
        for r in reports:
            report.outcomes[r.outcome] += 1
            report.events.update(e.type.value for e in r.events)
        report.reports.extend(reports)


@dataclass
class Renewals:
    """Both renewal_trigger entry points' services, built together (demo, CLI, tests)."""

    tick: TickService
    worker: ChargeWorker


def build_renewals(
    cloud: CloudSettings | None = None,
    *,
    clock: Clock | None = None,
    gateways: GatewayRouter | None = None,
    queue: ChargeQueue | None = None,
    log: Logger | None = None,
    crash_after_gateway: Callable[[GatewayCharge], None] | None = None,
) -> Renewals:
    """The tick and the charge worker from the composition root's own builders."""
    tick = build_tick(cloud, clock=clock, queue=queue, log=log)
    worker = build_charge_worker(
        cloud, clock=clock, gateways=gateways, log=log, crash_after_gateway=crash_after_gateway
    )
    return Renewals(tick, worker)


def build_inline(
    cloud: CloudSettings | None = None,
    *,
    clock: Clock | None = None,
    gateways: GatewayRouter | None = None,
    log: Logger | None = None,
    concurrency: int = 1,
    duplicate: bool = False,
) -> InlineRenewals:
    """Tick + worker with an in-process queue (CLI, simulation, bench)."""
    clock = clock or clock_from_env()
    queue = InlineQueue()
    renewals = build_renewals(cloud, clock=clock, gateways=gateways, queue=queue, log=log)
    return InlineRenewals(
        renewals.tick,
        queue,
        renewals.worker,
        clock,
        concurrency=concurrency,
        duplicate=duplicate,
    )
