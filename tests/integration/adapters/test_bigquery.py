"""BigQuery through the real client against bqemulator."""

from __future__ import annotations

from google.cloud import bigquery

from refrain.adapters.bigquery import build_bigquery, ensure_dataset
from refrain.settings import CloudSettings
from refrain.topology import ANALYTICS_DATASET, TOPOLOGY


def test_provisioned_table_is_partitioned_and_clustered_as_declared(cloud: CloudSettings) -> None:
    client = build_bigquery(cloud)
    declared = TOPOLOGY.datasets[0].tables[0]
    table = client.get_table(f"{cloud.project}.{ANALYTICS_DATASET}.{declared.name}")
    assert [f.name for f in table.schema] == [c.name for c in declared.columns]
    assert table.time_partitioning is not None
    assert table.time_partitioning.field == declared.partition_field
    assert table.clustering_fields == list(declared.clustering)


def test_ensure_dataset_twice_keeps_existing_rows(cloud: CloudSettings) -> None:
    client = build_bigquery(cloud)
    table = f"{cloud.project}.{ANALYTICS_DATASET}.churn_signals"
    assert client.insert_rows_json(table, [_row("a", 100)]) == []
    ensure_dataset(client, TOPOLOGY.datasets[0])
    assert _count(client, table) == 1


def test_insert_and_query_back_with_parameters(cloud: CloudSettings) -> None:
    client = build_bigquery(cloud)
    table = f"{cloud.project}.{ANALYTICS_DATASET}.churn_signals"
    rows = [_row("s1", 12900), _row("s2", 99), _row("s3", 12900)]
    assert client.insert_rows_json(table, rows) == []
    job = client.query(
        f"SELECT signal_id FROM `{table}` WHERE price_minor = @p ORDER BY signal_id",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("p", "INT64", 12900)]
        ),
    )
    assert [r.signal_id for r in job.result()] == ["s1", "s3"]


def _row(signal_id: str, price_minor: int) -> dict[str, object]:
    return {
        "signal_id": signal_id,
        "signal_type": "renewed",
        "occurred_at": "2026-03-01T12:00:00Z",
        "subscriber_key": "k" * 64,
        "market": "DE",
        "currency": "EUR",
        "price_minor": price_minor,
        "schema_version": 1,
    }


def _count(client: bigquery.Client, table: str) -> int:
    return int(next(iter(client.query(f"SELECT COUNT(*) AS n FROM `{table}`").result())).n)
