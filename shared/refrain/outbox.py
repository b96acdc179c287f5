"""The outbox publisher: publish a committed entry's events, then mark it published.

Every writer of the ledger (the webhook, the renewal worker, customer care)
announces right after its commit, and the scheduled sweep republishes what a
crash or an outage left unpublished; all of them go through
:class:`OutboxPublisher`. Publishing twice is possible (a crash after publish,
before the mark) and harmless: every consumer deduplicates by event_id.
Losing an event is not: an entry is marked only after the relay accepted
every event of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from refrain.domain.clock import Clock
from refrain.domain.events import DomainEvent
from refrain.observability import Logger


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An outbox entry still to publish."""

    outbox_id: str
    events: tuple[DomainEvent, ...]
    trace: str | None = None


class EventRelay(Protocol):
    def publish(
        self, outbox_id: str, events: tuple[DomainEvent, ...], trace: str | None = None
    ) -> bool:
        """Publish an outbox entry's events in order; True when all were accepted.

        ``trace`` (a Cloud Logging trace name) goes on every message as an attribute.
        """
        ...


class Outbox(Protocol):
    def mark_published(self, outbox_id: str, at: datetime, *, swept: bool = False) -> None: ...

    def unpublished(self, created_before: datetime, limit: int) -> Iterable[PendingEntry]:
        """Unpublished entries created at or before ``created_before``, oldest first."""
        ...


@dataclass
class OutboxPublisher:
    relay: EventRelay
    outbox: Outbox
    clock: Clock
    log: Logger

    def announce(
        self,
        outbox_id: str | None,
        events: tuple[DomainEvent, ...],
        trace: str | None = None,
        *,
        mark: bool = True,
        log: Logger | None = None,
        **context: Any,
    ) -> bool:
        """Right after a commit: publish, then mark; True when both happened.

        A failure is logged with ``context`` and swallowed: the commit happened, so the
        caller's work succeeded and the sweep publishes the entry later. ``mark=False``:
        the caller marks the entry itself (the webhook does, in its audit commit).
        """
        if not outbox_id or not events:
            return False
        try:
            at = self.clock.now() if mark else None
            return self._publish_then_mark(outbox_id, events, trace, at)
        except Exception as exc:
            (log or self.log).warning(
                "publish deferred to the outbox sweep", **context, error=type(exc).__name__
            )
            return False

    def sweep(
        self, now: datetime, older_than: timedelta = timedelta(seconds=30), limit: int = 200
    ) -> int:
        """Publish entries left unpublished for longer than ``older_than``; return how many.

        A failure propagates: the scheduled sweep fails visibly and runs again.
        """
        done = 0
        for entry in self.outbox.unpublished(now - older_than, limit):
            if self._publish_then_mark(entry.outbox_id, entry.events, entry.trace, now, True):
                done += 1
        return done

    def _publish_then_mark(
        self,
        outbox_id: str,
        events: tuple[DomainEvent, ...],
        trace: str | None,
        at: datetime | None,
        swept: bool = False,
    ) -> bool:
        if not self.relay.publish(outbox_id, events, trace=trace):
            return False
        if at is not None:
            self.outbox.mark_published(outbox_id, at, swept=swept)
        return True
