"""The renewal tick: find what is due, page by page, and fan out one message each.

Cost is O(due): the source answers only subscriptions whose ``next_deadline``
(earliest of next charge, grace end, hold end, auto-resume; stored as
``next_deadline_ts``) has passed, through a composite index, never scanning the
collection. The tick writes nothing: overlapping or repeated ticks publish the
same deterministic timer inputs, which the ledger applies once. An upgrade whose charge
has waited longer than ``UPGRADE_REQUEUE_AFTER`` is queued again (the worker charges a
claimed key at most once), so a lost message never leaves an upgrade unbilled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from refrain.domain.clock import Clock
from refrain.domain.machine import due_timers, upgrade_requeue_due
from refrain.domain.subscription import Subscription
from refrain.observability import Logger
from refrain.renewals.messages import ChargeMessage

PAGE_SIZE = 300


class DueSource(Protocol):
    def due_pages(self, now: datetime, page_size: int) -> Iterator[list[Subscription]]:
        """Merchant-managed subscriptions with a deadline at or before ``now``, in pages."""
        ...


class ChargeQueue(Protocol):
    def send(self, messages: Sequence[ChargeMessage]) -> None:
        """Publish (ordering key = subscription id); return once all were accepted."""
        ...


@dataclass
class TickReport:
    at: datetime
    due: int = 0
    published: int = 0
    pages: int = 0
    nothing_due: int = 0  # matched the query but no timer fires (logged: should not happen)


@dataclass
class TickService:
    source: DueSource
    queue: ChargeQueue
    clock: Clock
    log: Logger
    page_size: int = PAGE_SIZE

    def run(self) -> TickReport:
        report = TickReport(at=self.clock.now())
        for page in self.source.due_pages(report.at, self.page_size):
            report.pages += 1
            report.due += len(page)
            messages = list(self._messages(page, report))
            if messages:
                self.queue.send(messages)
                report.published += len(messages)
        self.log.info(
            "renewal tick",
            at=report.at.isoformat(),
            due=report.due,
            published=report.published,
            pages=report.pages,
        )
        return report

    def _messages(
        self, page: Iterable[Subscription], report: TickReport
    ) -> Iterator[ChargeMessage]:
        for sub in page:
            if upgrade_requeue_due(sub, report.at):
                assert sub.upgrade is not None
                yield ChargeMessage.for_upgrade(sub.subscription_id, sub.upgrade.charge_id)
            timers = due_timers(sub, report.at)
            if not timers and sub.upgrade is not None:
                continue  # only its waiting upgrade was due
            if not timers:
                report.nothing_due += 1
                self.log.warning(
                    "indexed as due but no timer fires", subscription_id=sub.subscription_id
                )
                continue
            yield ChargeMessage.for_timer(sub.subscription_id, timers[0])
