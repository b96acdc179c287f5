"""`refrain models simulate|train|evaluate dunning`: the retry-timing model's life cycle.

Training rows come from the churn signals in BigQuery (``refrain_tools.models.dataset``);
artifacts go to Cloud Storage as ``gs://$REFRAIN_MODEL_BUCKET/dunning/v<N>/`` (the local
stack's stand-in under ``refrain stack``). See ``refrain_tools.models.train``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import click

MODELS = click.Choice(["dunning"])
_URI = re.compile(r"^gs://(?P<bucket>[^/]+)/(?P<model>[^/]+)/v(?P<version>\d+)(/model\.json)?/?$")


def _day(value: str, hint: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time(), UTC)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not YYYY-MM-DD", param_hint=hint) from exc


def _clients(dataset: str | None) -> tuple[Any, str]:
    from refrain.adapters.bigquery import build_bigquery
    from refrain.settings import CloudSettings
    from refrain.topology import ANALYTICS_DATASET

    return build_bigquery(CloudSettings()), dataset or ANALYTICS_DATASET


def _store(bucket: str | None) -> Any:
    import os

    from refrain.adapters.gcs_models import MODEL_BUCKET_ENV, GcsModelStore, build_storage
    from refrain.settings import CloudSettings

    name = bucket or os.environ.get(MODEL_BUCKET_ENV, "")
    if not name:
        raise click.ClickException(f"no model bucket: set {MODEL_BUCKET_ENV} or --bucket")
    return GcsModelStore(build_storage(CloudSettings()), name, "dunning")


@click.group()
def models() -> None:
    """Trained models: simulate training data, train, evaluate (docs in refrain_tools.models)."""


@models.command()
@click.argument("model", type=MODELS)
@click.option("--subscriptions", default=20_000, show_default=True)
@click.option("--months", default=6, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--start", default="2026-01-01", show_default=True, help="First renewal day.")
@click.option("--dataset", default=None, help="BigQuery dataset (default: the analytics one).")
def simulate(
    *, model: str, subscriptions: int, months: int, seed: int, start: str, dataset: str | None
) -> None:
    """Write a simulated dunning history into churn_signals, as the export would."""
    from refrain.adapters.bigquery_signals import SignalWriter
    from refrain_tools.models.history import simulate_signals

    client, ds = _clients(dataset)
    rows = list(simulate_signals(seed, subscriptions, months, _day(start, "--start")))
    result = SignalWriter(client, ds).write(rows)
    click.echo(f"{result.inserted} of {result.rows} payment signals written to {ds}")


@models.command()
@click.argument("model", type=MODELS)
@click.option("--from", "start", required=True, help="First day of attempts (YYYY-MM-DD).")
@click.option("--to", "end", required=True, help="Day after the last (YYYY-MM-DD).")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Also write model.json and metadata.json into this directory.")  # fmt: skip
@click.option("--publish/--no-publish", default=True, show_default=True,
              help="Upload as the next version to gs://$REFRAIN_MODEL_BUCKET/dunning/")  # fmt: skip
@click.option("--bucket", default=None, help="Model bucket (default: $REFRAIN_MODEL_BUCKET).")
@click.option("--dataset", default=None, help="BigQuery dataset (default: the analytics one).")
def train(
    *,
    model: str, start: str, end: str, out: str | None, publish: bool,
    bucket: str | None, dataset: str | None,
) -> None:  # fmt: skip
    """Fit on the first 80% of the window's attempts by time, evaluate on the last 20%."""
    from refrain_tools.models.dataset import fetch_attempts
    from refrain_tools.models.train import report
    from refrain_tools.models.train import train as fit_model

    lo, hi = _day(start, "--from"), _day(end, "--to")
    client, ds = _clients(dataset)
    attempts = fetch_attempts(client, ds, lo, hi)
    store = _store(bucket) if publish else None
    version = (max(store.versions(), default=0) + 1) if store else 1
    try:
        trained = fit_model(attempts, lo, hi, version)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"dunning v{version}: {len(attempts)} attempts from {start} to {end}")
    click.echo(report(trained.evaluation))
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.json").write_bytes(trained.model_json)
        (folder / "metadata.json").write_text(json.dumps(trained.metadata, indent=2))
        click.echo(f"written {folder / 'model.json'}")
    if store:
        click.echo(f"published {store.publish(trained.model_json, trained.metadata, version)}")


_MODEL_HELP = "model.json (checked against metadata.json beside it) or gs://B/dunning/vN"


@models.command()
@click.argument("model", type=MODELS)
@click.option("--model", "source", required=True, help=_MODEL_HELP)
@click.option("--from", "start", required=True, help="First day of attempts (YYYY-MM-DD).")
@click.option("--to", "end", required=True, help="Day after the last (YYYY-MM-DD).")
@click.option("--dataset", default=None, help="BigQuery dataset (default: the analytics one).")
def evaluate(model: str, source: str, start: str, end: str, dataset: str | None) -> None:
    """Score the window's attempts with the artifact (the runtime scorer) and report."""
    from refrain.dunning_model import ArtifactError, DunningModel
    from refrain_tools.models.dataset import fetch_attempts
    from refrain_tools.models.train import evaluate as score_holdout
    from refrain_tools.models.train import report

    try:
        loaded: DunningModel = _load(source)
    except (ArtifactError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    client, ds = _clients(dataset)
    attempts = fetch_attempts(client, ds, _day(start, "--from"), _day(end, "--to"))
    if not attempts:
        raise click.ClickException(f"no attempts between {start} and {end}")
    rate = sum(a.succeeded for a in attempts) / len(attempts)
    predicted = [loaded.score(a.context) for a in attempts]
    click.echo(f"dunning v{loaded.version} (sha256 {loaded.sha256[:12]}) on {start}..{end}")
    click.echo(report(score_holdout(predicted, attempts, rate), "window", "the window itself"))


def _load(source: str) -> Any:
    from refrain.dunning_model import load_model

    match = _URI.match(source)
    if match:
        store = _store(match["bucket"])
        store.model = match["model"]
        return store.load(int(match["version"]))
    path = Path(source)
    path = path / "model.json" if path.is_dir() else path
    meta_path = path.with_name("metadata.json")
    sha = json.loads(meta_path.read_text())["sha256"] if meta_path.exists() else None
    return load_model(path.read_bytes(), expected_sha256=sha)
