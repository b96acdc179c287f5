"""BigQuery client from settings, and table provisioning from the topology."""

from __future__ import annotations

import contextlib

from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import Conflict
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from refrain.settings import CloudSettings
from refrain.topology import Dataset, Table


def build_bigquery(settings: CloudSettings) -> bigquery.Client:
    if settings.bigquery_endpoint:
        return bigquery.Client(
            project=settings.project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=settings.bigquery_endpoint),
        )
    return bigquery.Client(project=settings.project, location=settings.bigquery_location)


def table_schema(table: Table) -> list[bigquery.SchemaField]:
    return [
        bigquery.SchemaField(c.name, c.type, mode=c.mode, description=c.description or None)  # type: ignore[arg-type]
        for c in table.columns
    ]


def ensure_dataset(client: bigquery.Client, dataset: Dataset, location: str = "EU") -> None:
    """Create the dataset and its tables if missing; existing ones are left alone."""
    ds = bigquery.Dataset(f"{client.project}.{dataset.name}")
    ds.location = location
    with contextlib.suppress(Conflict):
        client.create_dataset(ds)
    for table in dataset.tables:
        bq_table = bigquery.Table(
            f"{client.project}.{dataset.name}.{table.name}", schema=table_schema(table)
        )
        bq_table.description = table.description or None
        if table.partition_field:
            bq_table.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY, field=table.partition_field
            )
        if table.clustering:
            bq_table.clustering_fields = list(table.clustering)
        with contextlib.suppress(Conflict):
            client.create_table(bq_table)
