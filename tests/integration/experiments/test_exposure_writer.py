"""Exposures through the real BigQuery client against bqemulator: one row per unit, earliest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from refrain.adapters.bigquery import build_bigquery
from refrain.adapters.bigquery_exposures import ExposureWriter
from refrain.experiments.exposure import ExposureRow
from refrain.settings import CloudSettings
from tests.unit.churn.factory import T0


def _exposure(unit: str, days: int, variant: str = "fixed", **changes: Any) -> ExposureRow:
    base: dict[str, Any] = {
        "experiment_key": "dunning_retry_timing", "experiment_version": 1, "variant": variant,
        "subscriber_key": unit, "exposed_at": T0 + timedelta(days=days),
        "decision": "dunning_retry_schedule", "signal_id": f"{unit}-{days}", "market": "SE",
        "covariate": 3.0,
    }  # fmt: skip
    return ExposureRow(**(base | changes))


def _stored(writer: ExposureWriter, cloud: CloudSettings) -> dict[tuple[str, str], Any]:
    rows = build_bigquery(cloud).query(f"SELECT * FROM `{writer.table}`").result()
    return {(r.experiment_key, r.subscriber_key): r for r in rows}


def test_a_unit_keeps_its_earliest_exposure_whatever_order_batches_come_in(
    cloud: CloudSettings,
) -> None:
    writer = ExposureWriter(build_bigquery(cloud))
    first = writer.write([_exposure("u1", 5), _exposure("u2", 1), _exposure("u1", 9)])
    assert (first.rows, first.inserted, first.calls) == (2, 2, 1)

    again = writer.write([_exposure("u1", 7), _exposure("u2", 1)])  # later, and a redelivery
    assert again.inserted == 0
    earlier = writer.write([_exposure("u1", 2, covariate=None)])  # an overtaken batch
    assert earlier.inserted == 1
    other = writer.write([_exposure("u1", 8, experiment_key="price_test", variant="b")])
    assert other.inserted == 1

    stored = _stored(writer, cloud)
    assert len(stored) == 3
    u1 = stored[("dunning_retry_timing", "u1")]
    assert (u1.exposed_at, u1.signal_id, u1.covariate) == (T0 + timedelta(days=2), "u1-2", None)
    assert stored[("dunning_retry_timing", "u2")].exposed_at == T0 + timedelta(days=1)
    assert stored[("price_test", "u1")].variant == "b"
