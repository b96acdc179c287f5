"""The row models are the schema: topology columns are generated from them."""

from __future__ import annotations

import subprocess
import sys

from refrain.churn.rows import FeatureRow, SignalRow, bigquery_fields
from refrain.topology import TOPOLOGY


def _table(name: str):  # type: ignore[no-untyped-def]
    return next(t for d in TOPOLOGY.datasets for t in d.tables if t.name == name)


def test_signals_table_is_generated_from_the_row_model() -> None:
    table = _table("churn_signals")
    assert [c.name for c in table.columns] == list(SignalRow.model_fields)
    assert table.partition_field == "occurred_at"
    assert table.clustering == ("market", "signal_type")
    modes = {c.name: (c.type, c.mode) for c in table.columns}
    assert modes["signal_id"] == ("STRING", "REQUIRED")
    assert modes["occurred_at"] == ("TIMESTAMP", "REQUIRED")
    assert modes["price_minor"] == ("INT64", "NULLABLE")
    assert modes["hard_decline"] == ("BOOL", "NULLABLE")
    required = {"subscriber_key", "market", "plan", "billing_mode", "provider", "currency",
                "price_minor", "tenure_days", "renewal_count", "failed_attempts",
                "schema_version"}  # fmt: skip
    assert required <= set(modes)


def test_feature_table_is_partitioned_by_snapshot_date() -> None:
    table = _table("churn_features_daily")
    assert [c.name for c in table.columns] == list(FeatureRow.model_fields)
    assert table.partition_field == "snapshot_date"
    assert bigquery_fields(FeatureRow)[0][:3] == ("snapshot_date", "DATE", "REQUIRED")


def test_no_column_can_hold_personal_data() -> None:
    for model in (SignalRow, FeatureRow):
        for name in model.model_fields:
            assert not any(w in name for w in ("email", "name", "account_id", "address"))


def test_topology_imports_without_bigquery() -> None:
    code = "import sys, refrain.topology; print('google.cloud.bigquery' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
