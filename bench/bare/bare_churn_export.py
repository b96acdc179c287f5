"""Bare stand-in for functions/churn_export (bench/cold_start.py's fair baseline).

No Refrain code: BigQuery and the Pub/Sub subscriber built at the first delivery;
export_flush pulls the one queued message, runs the same MERGE (SQL and a row given
by the benchmark in BARE_MERGE_SQL / BARE_MERGE_ROWS) and acks; feature_snapshot
runs the same snapshot script (BARE_SNAPSHOT_SQL) and the count query.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import functions_framework
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, pubsub_v1  # type: ignore[attr-defined]

PROJECT = os.environ["GOOGLE_CLOUD_PROJECT"]


@functools.cache
def client() -> Any:
    endpoint = os.environ.get("REFRAIN_BIGQUERY_ENDPOINT")
    if endpoint:
        return bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=endpoint))  # fmt: skip
    return bigquery.Client(project=PROJECT)


@functions_framework.cloud_event
def export_flush(cloud_event: Any) -> None:
    bq, subscriber = client(), pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(PROJECT, "churn-export")
    pulled = subscriber.pull(request={"subscription": path, "max_messages": 1}, timeout=10)
    now = datetime.now(UTC)
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("rows", "STRING", os.environ["BARE_MERGE_ROWS"]),
            bigquery.ScalarQueryParameter("lo", "TIMESTAMP", now - timedelta(days=2)),
            bigquery.ScalarQueryParameter("hi", "TIMESTAMP", now + timedelta(days=1)),
        ]
    )
    bq.query(os.environ["BARE_MERGE_SQL"], job_config=config).result()
    ack_ids = [m.ack_id for m in pulled.received_messages]
    if ack_ids:
        subscriber.acknowledge(request={"subscription": path, "ack_ids": ack_ids})


@functions_framework.cloud_event
def feature_snapshot(cloud_event: Any) -> None:
    bq = client()
    bq.query(os.environ["BARE_SNAPSHOT_SQL"]).result()
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("day", "DATE", day)]
    )
    table = os.environ["BARE_SNAPSHOT_TABLE"]
    list(bq.query(f"SELECT COUNT(*) AS n FROM `{table}` WHERE snapshot_date = @day",
                  job_config=config).result())  # fmt: skip
