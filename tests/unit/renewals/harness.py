"""Tick + worker + sandbox over the in-memory fakes, with a ManualClock."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

from refrain.domain import ManualClock, Subscription
from refrain.observability import get_logger
from refrain.outbox import OutboxPublisher
from refrain.renewals.gateway import GatewayRouter, PaymentGateway
from refrain.renewals.sandbox import SandboxGateway
from refrain.renewals.tick import TickService
from refrain.renewals.worker import ChargeWorker
from refrain_tools.renewals.inline import InlineQueue, InlineRenewals
from tests.fakes.ledger import MemoryLedger
from tests.fakes.outbox import RecordingRelay
from tests.unit.renewals.fakes import MemoryDueSource, MemoryPending


@dataclass
class Harness:
    ledger: MemoryLedger
    clock: ManualClock
    gateway: SandboxGateway
    queue: InlineQueue
    tick: TickService
    worker: ChargeWorker
    inline: InlineRenewals
    log: io.StringIO


def harness(
    subs: Iterable[Subscription],
    clock: ManualClock,
    *,
    gateway: PaymentGateway | None = None,
    duplicate: bool = False,
    concurrency: int = 1,
) -> Harness:
    ledger = MemoryLedger({s.subscription_id: s for s in subs})
    sandbox = SandboxGateway()
    stream = io.StringIO()
    log = get_logger("renewal_trigger", stream)
    queue = InlineQueue()
    tick = TickService(MemoryDueSource(ledger), queue, clock, log, page_size=50)
    worker = ChargeWorker(
        ledger=ledger,
        pending=MemoryPending(ledger),
        gateways=GatewayRouter({}, default=gateway or sandbox),
        publisher=OutboxPublisher(RecordingRelay(), ledger, clock, log),
        clock=clock,
        log=log,
    )
    inline = InlineRenewals(
        tick, queue, worker, clock, duplicate=duplicate, concurrency=concurrency
    )
    return Harness(ledger, clock, sandbox, queue, tick, worker, inline, stream)
