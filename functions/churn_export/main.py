"""churn_export: lifecycle signals to BigQuery within minutes; feature_snapshot: the daily table.

``churn_export`` receives ``subscription-events`` as Pub/Sub ``messagePublished``
CloudEvents (push). It filters on the ``type`` attribute itself (the
emulator ignores subscription filters) and acks what it does not export;
an exported event becomes one row through a MERGE on ``signal_id``, so a
redelivered or late event never makes a second row. A message that is not
a valid domain event is logged (ids only) and raised: Pub/Sub retries it
with backoff and dead-letters it to ``churn-export-dead-letter`` after the
bounded attempts, where ``refrain dlq`` can look at it.

Batching: a push invocation carries one message, so this path writes one
row per MERGE (fresh within seconds, fine at low volume; ~$60 per million
rows on on-demand pricing because each query bills the 10 MB minimum). At
volume the same subscription is drained by ``refrain exports flush``
(:func:`refrain.adapters.bigquery_signals.flush`: pull up to N messages,
one MERGE per 2,000 rows, ~$0.15 per million rows) run every minute, or by
a Pub/Sub BigQuery subscription into a raw table plus a scheduled MERGE
(cheapest ingestion, but the transform and pseudonymisation would then have
to run in SQL, with the pepper in BigQuery: rejected).

``feature_snapshot`` receives ``feature-snapshots`` (Cloud Scheduler, daily);
the message may carry ``{"date": "YYYY-MM-DD"}``, default yesterday (UTC).
It replaces that day's partition of the feature table.

Both refuse to run without ``REFRAIN_SUBSCRIBER_PEPPER`` outside local/test.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from refrain.churn.export import ChurnExporter, PoisonMessage, decode_push_message
from refrain.observability import get_logger

log = get_logger("churn_export")


@functools.cache
def exporter() -> ChurnExporter:
    """Clients and keys are built once per instance, on first use."""
    from refrain.adapters.bigquery import build_bigquery
    from refrain.adapters.bigquery_signals import SignalWriter
    from refrain.churn.pseudonym import Pseudonymizer, load_pepper
    from refrain.churn.transform import SignalTransformer
    from refrain.settings import CloudSettings

    cloud = CloudSettings()
    pepper = load_pepper(local=cloud.is_local or bool(cloud.bigquery_endpoint))
    return ChurnExporter(
        SignalTransformer(Pseudonymizer(pepper)), SignalWriter(build_bigquery(cloud))
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@functions_framework.cloud_event
def churn_export(cloud_event: CloudEvent) -> None:
    message = _mapping(_mapping(cloud_event.data).get("message"))
    attributes = _mapping(message.get("attributes"))
    line = log.bind(
        message_id=message.get("messageId") or message.get("message_id"),
        event_type=attributes.get("type"),
        event_id=attributes.get("event_id"),
    )
    try:
        report = exporter().export_one(decode_push_message(message))
    except PoisonMessage as exc:
        line.error("not a domain event; retried, then dead-lettered", outcome="poison",
                   error=str(exc)[:300])  # fmt: skip
        raise
    if report.skipped:
        line.info("not exported; acked", outcome="skipped", reasons=report.skip_reasons)
    else:
        outcome = "exported" if report.inserted else "duplicate"
        line.info("signal exported", outcome=outcome)


def snapshot_day(data: Mapping[str, Any], now: datetime) -> date:
    """The day a feature-snapshot message asks for: its ``date``, else yesterday (UTC).

    A payload that is not a JSON object (Cloud Scheduler's default body) means
    "default"; a ``date`` that is not YYYY-MM-DD is a bad request and raises.
    """
    raw = _mapping(data.get("message")).get("data") or ""
    try:
        body = json.loads(base64.b64decode(raw, validate=True)) if raw else {}
    except (binascii.Error, ValueError):
        body = {}
    if isinstance(body, dict) and body.get("date") is not None:
        return date.fromisoformat(str(body["date"]))
    return (now.astimezone(UTC) - timedelta(days=1)).date()


@functions_framework.cloud_event
def feature_snapshot(cloud_event: CloudEvent) -> None:
    from refrain.adapters.bigquery import build_bigquery
    from refrain.adapters.bigquery_signals import SnapshotWriter
    from refrain.settings import CloudSettings

    try:
        day = snapshot_day(_mapping(cloud_event.data), datetime.now(UTC))
    except ValueError as exc:
        log.error("bad snapshot date; retried, then dead-lettered", error=str(exc)[:200])
        raise
    rows = SnapshotWriter(build_bigquery(CloudSettings())).write_day(day)
    log.info("feature snapshot written", snapshot_date=day.isoformat(), rows=rows)
