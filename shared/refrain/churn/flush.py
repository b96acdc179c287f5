"""The batch flush: pull a batch from the churn-export queue, write its signals, ack or nack.

What the deployed ``export_flush`` function and ``refrain exports flush`` run.
A sink failure nacks the whole batch (it comes back); poison is nacked alone
(redelivered with backoff until it dead-letters); everything else is acked
only after its rows are written, so a crash in between re-exports rows that
the MERGE finds already there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from refrain.churn.export import ChurnExporter, ExportReport
from refrain.push_envelope import PushMessage

__all__ = [
    "DEFAULT_FLUSH_MAX",
    "FLUSH_MAX_ENV",
    "BatchFlush",
    "MessageQueue",
    "flush",
    "flush_max_messages",
]

FLUSH_MAX_ENV: Final = "REFRAIN_EXPORT_FLUSH_MAX"
# One flush = at most this many messages; 5,000 rows are three 2,000-row MERGEs, done
# well within the subscription's 60 s ack deadline and the function's timeout.
DEFAULT_FLUSH_MAX: Final = 5000
_FLUSH_MAX_LIMIT: Final = 100_000


class MessageQueue(Protocol):
    """A pull subscription: messages with their ack ids, acked or nacked in bulk."""

    def pull(self, max_messages: int) -> Sequence[tuple[str, PushMessage]]: ...

    def ack(self, ack_ids: Sequence[str]) -> None: ...

    def nack(self, ack_ids: Sequence[str]) -> None: ...

    def close(self) -> None: ...


def flush_max_messages(env: Mapping[str, str]) -> int:
    """``REFRAIN_EXPORT_FLUSH_MAX`` (default 5000); anything but 1..100000 is refused."""
    raw = env.get(FLUSH_MAX_ENV, "").strip()
    if not raw:
        return DEFAULT_FLUSH_MAX
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{FLUSH_MAX_ENV}={raw!r} is not a whole number") from None
    if not 1 <= value <= _FLUSH_MAX_LIMIT:
        raise ValueError(f"{FLUSH_MAX_ENV}={value} must be within 1..{_FLUSH_MAX_LIMIT}")
    return value


def flush(
    queue: MessageQueue,
    exporter: ChurnExporter,
    max_messages: int,
    crash_after_write: Callable[[list[str]], None] | None = None,
) -> ExportReport:
    """Pull up to ``max_messages``, write their signals in batched MERGEs, then ack/nack.

    ``crash_after_write`` is test-only fault injection (an argument, never configuration):
    called with the batch's ack ids after the MERGE committed and before any ack, to stand
    for the process dying there; the batch is redelivered and the MERGE inserts nothing.
    """
    pulled = queue.pull(max_messages)
    if not pulled:
        return ExportReport()
    by_id = {message.message_id: ack_id for ack_id, message in pulled}
    try:
        report = exporter.export([message for _, message in pulled])
    except Exception:
        queue.nack(list(by_id.values()))
        raise
    if crash_after_write is not None:
        crash_after_write(list(by_id.values()))
    queue.ack([by_id[i] for i in report.done])
    queue.nack([by_id[i] for i in report.poison])
    return report


@dataclass(frozen=True)
class BatchFlush:
    """The exporter and its queue, kept so a function instance reuses their clients."""

    exporter: ChurnExporter
    queue: MessageQueue

    def __call__(self, max_messages: int) -> ExportReport:
        return flush(self.queue, self.exporter, max_messages)

    def close(self) -> None:
        self.queue.close()
