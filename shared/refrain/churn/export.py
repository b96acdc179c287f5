"""The churn export service: Pub/Sub messages in, signal rows out, decisions on each message.

Pure (the sink and the message source are small protocols; the BigQuery and
Pub/Sub adapters live in ``refrain.adapters.bigquery_signals``).

Per message, one of three outcomes:

* **exported**: a signal row, written (or found already written) by the sink;
* **skipped**: acked without a row: a ``type`` attribute we do not export
  (the emulator ignores subscription filters, and a production filter may
  lag a new event type, so the consumer filters itself), an event type the
  taxonomy skips, or an unknown future type (forward compatible: never
  dead-letter what a newer publisher may legitimately send);
* **poison**: not a valid domain event (bad base64, bad JSON, failed
  validation, unsupported schema_version). It is logged without its body and
  *not* acked (the push handler raises, the batch path nacks), so Pub/Sub
  retries with backoff and, after ``max_delivery_attempts``, moves it to
  ``churn-export-dead-letter`` where ``refrain dlq`` can inspect and replay
  it. A sink failure is not poison: the whole batch is retried.

With an :class:`~refrain.experiments.exposure.ExposureRecorder`, the rows of each
batch also yield the experiment exposures they record (a unit meeting the decision an
experiment varies), written after the signals in the same flush: a failure there too
nacks the batch, and both writes are idempotent, so the redelivery completes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from refrain.churn.rows import SignalRow
from refrain.churn.transform import SKIPPED_EVENT_TYPES, SignalTransformer, Skip
from refrain.domain.errors import EventParseError
from refrain.domain.events import DomainEvent, EventType, from_pubsub_message
from refrain.push_envelope import PushMessage

if TYPE_CHECKING:
    from refrain.experiments.exposure import ExposureRecorder

__all__ = [
    "EXPORTED_EVENT_TYPES",
    "ChurnExporter",
    "ExportReport",
    "PoisonMessage",
    "SignalSink",
]

EXPORTED_EVENT_TYPES = frozenset(t.value for t in EventType if t not in SKIPPED_EVENT_TYPES)
_KNOWN_TYPES = frozenset(t.value for t in EventType)


class PoisonMessage(ValueError):
    """A message that can never become a signal; retried, then dead-lettered."""


class SignalSink(Protocol):
    def write(self, rows: Sequence[SignalRow]) -> Any: ...


@dataclass
class ExportReport:
    exported: int = 0
    inserted: int = 0
    skipped: int = 0
    poison: list[str] = field(default_factory=list)  # message ids, for the caller to nack
    done: list[str] = field(default_factory=list)  # message ids safe to ack
    skip_reasons: dict[str, int] = field(default_factory=dict)
    exposures: int = 0  # experiment exposures the rows recorded (one per experiment and unit)
    exposures_written: int = 0  # rows the exposure MERGE inserted or moved earlier


class ChurnExporter:
    def __init__(
        self,
        transformer: SignalTransformer,
        sink: SignalSink,
        exposures: ExposureRecorder | None = None,
    ) -> None:
        self._transformer = transformer
        self._sink = sink
        self._exposures = exposures

    def classify(self, message: PushMessage) -> SignalRow | Skip:
        """Row or skip; raises :class:`PoisonMessage` for what can never be exported."""
        declared = message.attributes.get("type")
        if declared is not None and declared not in EXPORTED_EVENT_TYPES:
            reason = "not exported" if declared in _KNOWN_TYPES else "unknown event type"
            return Skip(declared, reason)
        try:
            event: DomainEvent = from_pubsub_message(message.data, message.attributes)
        except EventParseError as exc:
            raise PoisonMessage(str(exc)) from exc
        return self._transformer.transform(event)

    def export(self, messages: Sequence[PushMessage]) -> ExportReport:
        """Classify all, write the rows in one sink call; poison ones are reported, not raised."""
        report = ExportReport()
        rows: list[SignalRow] = []
        for message in messages:
            try:
                outcome = self.classify(message)
            except PoisonMessage:
                report.poison.append(message.message_id)
                continue
            report.done.append(message.message_id)
            if isinstance(outcome, Skip):
                report.skipped += 1
                key = f"{outcome.event_type}: {outcome.reason}"
                report.skip_reasons[key] = report.skip_reasons.get(key, 0) + 1
            else:
                rows.append(outcome)
        if rows:
            result = self._sink.write(rows)
            report.inserted = int(getattr(result, "inserted", len(rows)))
            self._record_exposures(rows, report)
        report.exported = len(rows)
        return report

    def _record_exposures(self, rows: Sequence[SignalRow], report: ExportReport) -> None:
        if self._exposures is not None:
            report.exposures, report.exposures_written = self._exposures.record(rows)

    def export_one(self, message: PushMessage) -> ExportReport:
        """The push path: like :meth:`export`, but poison raises (so Pub/Sub retries it)."""
        outcome = self.classify(message)
        report = ExportReport(done=[message.message_id])
        if isinstance(outcome, Skip):
            report.skipped = 1
            report.skip_reasons[f"{outcome.event_type}: {outcome.reason}"] = 1
            return report
        result = self._sink.write([outcome])
        report.exported = 1
        report.inserted = int(getattr(result, "inserted", 1))
        self._record_exposures([outcome], report)
        return report
