"""Train from bqemulator's churn signals, publish to the Cloud Storage stand-in, load back."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from refrain.adapters import gcs_models
from refrain.adapters.bigquery import build_bigquery
from refrain.adapters.bigquery_signals import SignalWriter
from refrain.adapters.gcs_models import GcsModelStore, build_storage
from refrain.dunning_model import ArtifactError, load_model
from refrain.settings import CloudSettings
from refrain.topology import ANALYTICS_DATASET
from refrain_tools.cli import main as cli
from refrain_tools.models.dataset import fetch_attempts
from refrain_tools.models.history import simulate_signals

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 8, 1, tzinfo=UTC)
BUCKET = "refrain-local-models"


@pytest.fixture
def signals(cloud: CloudSettings) -> CloudSettings:
    client = build_bigquery(cloud)
    rows = list(simulate_signals(11, 1500, 6, START))
    assert SignalWriter(client, ANALYTICS_DATASET).write(rows).inserted == len(rows)
    client.close()
    gcs_models._CACHE.clear()
    return cloud


def test_train_publish_load_gives_the_same_scores(signals: CloudSettings, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "model"
    done = runner.invoke(cli, ["models", "train", "dunning", "--from", "2026-01-01",
                               "--to", "2026-08-01", "--out", str(out)])  # fmt: skip
    assert done.exit_code == 0, done.output
    print(done.output)
    assert "published gs://refrain-local-models/dunning/v1/model.json" in done.output
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["metrics"]["auc"] > 0.65
    assert metadata["metrics"]["log_loss"] < metadata["metrics"]["baseline_log_loss"]

    store = GcsModelStore(build_storage(signals), BUCKET)
    assert store.versions() == [1]
    loaded = store.load()
    local = load_model((out / "model.json").read_bytes(), metadata["sha256"])
    assert loaded.version == 1 and loaded.sha256 == metadata["sha256"]
    assert store.load(1) is loaded  # cached: one download per instance
    attempts = fetch_attempts(build_bigquery(signals), ANALYTICS_DATASET, START, END)
    assert [loaded.score(a.context) for a in attempts] == [local.score(a.context)
                                                           for a in attempts]  # fmt: skip

    again = runner.invoke(cli, ["models", "train", "dunning", "--from", "2026-01-01",
                                "--to", "2026-08-01"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert store.versions() == [1, 2]
    assert store.metadata(2)["window"] == {"from": START.isoformat(), "to": END.isoformat()}
    with pytest.raises(ArtifactError, match="never overwritten"):
        store.publish(b"{}", {"sha256": "0" * 64}, 2)

    evaluated = runner.invoke(cli, ["models", "evaluate", "dunning", "--model",
                                    f"gs://{BUCKET}/dunning/v1", "--from", "2026-06-01",
                                    "--to", "2026-08-01"])  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    assert "dunning v1" in evaluated.output and "calibration" in evaluated.output


def test_a_tampered_artifact_is_refused(signals: CloudSettings) -> None:
    store = GcsModelStore(build_storage(signals), BUCKET)
    tree = {"feature": [-1], "threshold": [0], "missing_left": [0], "left": [0], "right": [0],
            "value": [0.5]}  # fmt: skip
    good = json.dumps({"format": "refrain.dunning_model", "format_version": 1,
                       "model": "dunning", "version": 1, "features": ["attempt"],
                       "baseline": 0.0, "trees": [tree]})  # fmt: skip
    store.publish(good.replace("0.5", "9.5").encode(),
                  {"sha256": hashlib.sha256(good.encode()).hexdigest()}, 1)  # fmt: skip
    with pytest.raises(ArtifactError, match="does not match the published"):
        store.load(1)
    with pytest.raises(ArtifactError, match="does not exist"):
        store.load(7)
    runner = CliRunner()
    done = runner.invoke(cli, ["models", "evaluate", "dunning", "--model",
                               f"gs://{BUCKET}/dunning/v1", "--from", "2026-06-01",
                               "--to", "2026-08-01"])  # fmt: skip
    assert done.exit_code == 1 and "does not match" in done.output


def test_no_model_published_is_a_clear_error(cloud: CloudSettings) -> None:
    with pytest.raises(ArtifactError, match="no dunning model published"):
        GcsModelStore(build_storage(cloud), BUCKET).load()
