"""Churn signals to BigQuery in batches (deployed), per message (alternative), daily features.

``export_flush`` is what the deployed ``churn_export`` function runs. Cloud
Scheduler publishes to ``export-flushes`` every minute and the ``export-flush``
push subscription delivers that tick here; the function then pulls up to
``REFRAIN_EXPORT_FLUSH_MAX`` (default 5000) messages from the ``churn-export``
*pull* subscription (every domain event of ``subscription-events``) and writes
their signals with :func:`refrain.adapters.bigquery_signals.flush`: one
``MERGE`` on ``signal_id`` per 2,000 rows (~$0.15 per million rows), ack what
was exported or skipped, nack what is not a valid domain event (Pub/Sub
redelivers it with backoff and dead-letters it to ``churn-export-dead-letter``
after the bounded attempts, where ``refrain dlq`` can look at it). If the write
fails, the whole batch is nacked and the tick raises (retried). Signals reach
BigQuery within about a minute; a redelivered or late event never makes a
second row. The same flush writes the experiment exposures those signals record (one
row per experiment and unit in ``experiment_exposures``, docs/EXPERIMENTS.md).
``refrain exports flush`` runs the same flush by hand.

``churn_export`` is the per-message alternative for low volume: point a push
subscription on ``subscription-events`` at this entry point and each message
becomes one MERGE (fresh within seconds, but ~$60 per million rows because each
query bills the 10 MB minimum). It filters on the ``type`` attribute itself
(the emulator ignores subscription filters) and raises on a malformed message
so Pub/Sub retries and then dead-letters it. A Pub/Sub BigQuery subscription
into a raw table plus a scheduled MERGE was rejected: the transform and the
pseudonymisation would have to run in SQL, with the pepper in BigQuery.

``feature_snapshot`` receives ``feature-snapshots`` (Cloud Scheduler, daily);
the message may carry ``{"date": "YYYY-MM-DD"}``, default yesterday (UTC).
It replaces that day's partition of the feature table.

All three refuse to run without ``REFRAIN_SUBSCRIBER_PEPPER`` outside local/test.
"""

from __future__ import annotations

import functools
import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import functions_framework

from refrain import bootstrap, config_contract, serving
from refrain.churn.export import ChurnExporter, PoisonMessage
from refrain.churn.flush import BatchFlush, flush_max_messages
from refrain.clocks import clock_from_env
from refrain.observability import get_logger
from refrain.push_envelope import MalformedPush, decode_push, push_message_id

# In the cloud, a missing setting stops the instance here, by name.
config_contract.refuse_incomplete("churn_export")
serving.limit_the_server()  # request-line bound, no control socket (refrain.serving)

log = get_logger("churn_export")


@functools.cache
def exporter() -> ChurnExporter:
    """Clients and keys are built once per instance, on first use."""
    return bootstrap.build_exporter()


@functools.cache
def flusher() -> BatchFlush:
    """The batch flush over ``churn-export``, built once per instance (its clients are reused)."""
    return bootstrap.build_flush()


@functions_framework.cloud_event
def churn_export(cloud_event: Any) -> None:
    line = log.bind(message_id=push_message_id(cloud_event.data))
    try:
        message = decode_push(cloud_event.data)
        line = line.bind(
            trace=message.trace,
            event_type=message.attributes.get("type"),
            event_id=message.attributes.get("event_id"),
        )
        report = exporter().export_one(message)
    except (MalformedPush, PoisonMessage) as exc:
        line.error("not a domain event; retried, then dead-lettered", outcome="poison",
                   error=str(exc)[:300])  # fmt: skip
        raise
    if report.skipped:
        line.info("not exported; acked", outcome="skipped", reasons=report.skip_reasons)
    else:
        outcome = "exported" if report.inserted else "duplicate"
        line.info("signal exported", outcome=outcome)


@functions_framework.cloud_event
def export_flush(cloud_event: Any) -> None:
    """One export-flushes tick: drain up to REFRAIN_EXPORT_FLUSH_MAX messages in batches."""
    line = log.bind(tick_id=push_message_id(cloud_event.data))
    started = time.monotonic()
    try:
        max_messages = flush_max_messages(os.environ)
        report = flusher()(max_messages)
    except Exception as exc:
        line.error("flush failed; batch nacked, tick retried", outcome="failed",
                   error=f"{type(exc).__name__}: {str(exc)[:300]}")  # fmt: skip
        raise
    pulled = report.exported + report.skipped + len(report.poison)
    line.info(
        "export flushed",
        outcome="flushed" if pulled else "empty",
        pulled=pulled,
        exported=report.exported,
        inserted=report.inserted,
        skipped=report.skipped,
        poison=len(report.poison),
        exposures=report.exposures,
        max_messages=max_messages,
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def snapshot_day(body: object, now: datetime) -> date:
    """The day a feature-snapshot message asks for: its ``date``, else yesterday (UTC).

    A payload that is not a JSON object (Cloud Scheduler's default body) means
    "default"; a ``date`` that is not YYYY-MM-DD is a bad request and raises.
    """
    try:
        request = json.loads(decode_push(body).data or b"{}")
    except (MalformedPush, ValueError):
        request = {}
    if isinstance(request, dict) and request.get("date") is not None:
        return date.fromisoformat(str(request["date"]))
    return (now.astimezone(UTC) - timedelta(days=1)).date()


@functions_framework.cloud_event
def feature_snapshot(cloud_event: Any) -> None:
    try:
        day = snapshot_day(cloud_event.data, clock_from_env().now())
    except ValueError as exc:
        log.error("bad snapshot date; retried, then dead-lettered", error=str(exc)[:200])
        raise
    rows = bootstrap.build_snapshot_writer().write_day(day)
    log.info("feature snapshot written", snapshot_date=day.isoformat(), rows=rows)
