"""BigQuery side of experiment exposures: one row per experiment and unit, the earliest.

The export flush writes a batch's exposures right after its signals, the same way: one
``MERGE`` per batch with the rows as a single JSON query parameter. The key is
(``experiment_key``, ``subscriber_key``):

* not there yet: inserted;
* there, and the offered exposure is earlier: the row is replaced by it (a batch that
  overtook an earlier one, a redelivery of an old event after a newer one);
* there and not earlier: nothing changes (redeliveries, later failed renewals).

So the table converges to each unit's first exposure whatever order and however often
the batches come. Two flushes racing on the same new unit could still both insert
(BigQuery does not lock absent keys); the readout takes ``MIN(exposed_at)`` per unit.

Cost: the ON clause reads the key columns of the experiments in the batch (the table is
clustered on ``experiment_key``), about 90 bytes per exposed unit: the 10 MB minimum
per flush until an experiment passes ~100,000 units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from google.cloud import bigquery

from refrain.adapters.bigquery_signals import (
    MAX_BATCH_ROWS,
    WriteResult,
    batches,
    json_rows_source,
    run_merge,
)
from refrain.churn.rows import bigquery_fields
from refrain.experiments.exposure import EXPOSURES_TABLE, ExposureRow, earliest
from refrain.topology import ANALYTICS_DATASET

__all__ = ["ExposureWriter", "exposure_merge_sql"]

_KEY: Final = ("experiment_key", "subscriber_key")


def exposure_merge_sql(table: str) -> str:
    """The MERGE generated from :class:`ExposureRow` (keeps each unit's earliest exposure)."""
    fields = bigquery_fields(ExposureRow)
    names = [n for n, _, _, _ in fields]
    on = " AND ".join(f"T.{k} = S.{k}" for k in _KEY)
    on += " AND T.experiment_key IN UNNEST(@experiments)"  # clustering prunes the rest
    values = ", ".join(f"S.{n}" for n in names)
    insert = f"INSERT ({', '.join(names)}) VALUES ({values})"  # noqa: S608 (names from code)
    update = ", ".join(f"{n} = S.{n}" for n in names if n not in _KEY)
    return (
        f"MERGE `{table}` T\nUSING (\n  {json_rows_source(fields)}\n) S\nON {on}\n"
        f"WHEN MATCHED AND S.exposed_at < T.exposed_at THEN UPDATE SET {update}\n"
        f"WHEN NOT MATCHED THEN {insert}"
    )


class ExposureWriter:
    """Writes exposures in batches; safe to call again with any of the same rows."""

    def __init__(
        self,
        client: bigquery.Client,
        dataset: str = ANALYTICS_DATASET,
        max_batch_rows: int = MAX_BATCH_ROWS,
    ) -> None:
        self._client = client
        self.table = f"{client.project}.{dataset}.{EXPOSURES_TABLE}"
        self._sql = exposure_merge_sql(self.table)
        self._max_rows = max_batch_rows

    def write(self, rows: Sequence[ExposureRow]) -> WriteResult:
        unique = earliest(rows)
        written = calls = 0
        for batch in batches(unique, self._max_rows):
            written += self._merge(batch)
            calls += 1
        return WriteResult(len(unique), written, calls)

    def _merge(self, batch: list[ExposureRow]) -> int:
        experiments = sorted({r.experiment_key for r in batch})
        param = bigquery.ArrayQueryParameter("experiments", "STRING", experiments)
        return run_merge(self._client, self._sql, batch, param)
