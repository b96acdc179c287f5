"""`refrain exports`: drain the churn-export subscription in batches; build feature snapshots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import click


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not YYYY-MM-DD") from exc


@click.group()
def exports() -> None:
    """Churn-signal export to BigQuery (pseudonymous; see functions/churn_export)."""


@exports.command()
@click.option("--max-messages", default=10_000, show_default=True, help="Pull at most this many.")
@click.option("--subscription", default="churn-export", show_default=True)
def flush(max_messages: int, subscription: str) -> None:
    """Pull a batch from the subscription and write its signals in batched MERGEs.

    The same flush the deployed churn_export function runs on each export-flushes tick.
    """
    from refrain.bootstrap import build_flush
    from refrain.churn.pseudonym import MissingPepper

    try:
        batch = build_flush(subscription)
    except MissingPepper as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        report = batch(max_messages)
    finally:
        batch.close()
    click.echo(
        f"exported {report.exported} (new {report.inserted}), skipped {report.skipped}, "
        f"poison {len(report.poison)} (nacked); experiment exposures {report.exposures} "
        f"(written {report.exposures_written})"
    )


@exports.command()
@click.option("--date", "day", default=None, help="YYYY-MM-DD; default yesterday (UTC).")
def snapshot(day: str | None) -> None:
    """Compute one day of churn features (replaces that day)."""
    from refrain.bootstrap import build_snapshot_writer

    target = _day(day) or (datetime.now(UTC) - timedelta(days=1)).date()
    rows = build_snapshot_writer().write_day(target)
    click.echo(f"{target.isoformat()}: {rows} subscribers")


@exports.command()
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day (inclusive), YYYY-MM-DD.")
def backfill(start: str, end: str) -> None:
    """Recompute the feature snapshot for every day in a range (each day replaced)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from refrain.bootstrap import build_snapshot_writer

    first, last = _day(start), _day(end)
    assert first is not None and last is not None
    if last < first:
        raise click.BadParameter(f"--to {last} is before --from {first}")
    writer = build_snapshot_writer()
    days = (last - first).days + 1
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ) as progress:
        task = progress.add_task("snapshots", total=days)

        def advance(day: date, rows: int) -> None:
            progress.update(task, advance=1, description=f"{day.isoformat()} ({rows} rows)")

        total = writer.backfill(first, last, advance)
    click.echo(f"backfilled {days} days, {total} rows")
