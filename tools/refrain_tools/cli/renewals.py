"""`refrain renewals run --at TIME`: one tick, every resulting charge worked inline;
`refrain renewals backfill-shards`: the shard numbers on data from before them.

The demo uses it to travel through months: the clock is fixed at TIME for the
whole run, the gateway is the sandbox unless REFRAIN_PAYMENT_GATEWAY=providers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from refrain.domain.clock import FixedClock


@click.group()
def renewals() -> None:
    """Run merchant-managed renewals."""


@renewals.command()
@click.option("--at", "at", required=True, help="ISO time, e.g. 2025-03-01T00:00:00Z.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
def run(at: str, concurrency: int) -> None:
    """Tick at TIME and charge everything due, inline (no Pub/Sub push needed)."""
    from refrain_tools.renewals.inline import build_inline

    when = _parse(at)
    inline = build_inline(clock=FixedClock(when), concurrency=concurrency)
    report = inline.run()
    click.echo(
        f"renewals at {when.isoformat()}: due {report.due}, deliveries {report.deliveries}, "
        f"redeliveries {report.redeliveries}, gave up {report.gave_up}"
    )
    for name, count in sorted(report.outcomes.items()):
        click.echo(f"  outcome {name}: {count}")
    for name, count in sorted(report.events.items()):
        click.echo(f"  event {name}: {count}")


@renewals.command("backfill-shards")
@click.option("--dry-run", is_flag=True, help="Count what would be stamped; write nothing.")
def backfill_shards_command(dry_run: bool) -> None:
    """Stamp shard numbers on subscriptions and unpublished outbox entries that lack them
    (once, when upgrading a deployment that holds data from before the shards)."""
    from refrain.adapters.firestore import build_firestore
    from refrain.settings import CloudSettings
    from refrain_tools.renewals.shards import backfill_shards

    report = backfill_shards(build_firestore(CloudSettings()), dry_run=dry_run)
    verb = "would stamp" if dry_run else "stamped"
    click.echo(
        f"subscriptions: read {report.subscriptions_read}, {verb} {report.subscriptions_stamped}; "
        f"unpublished outbox entries: read {report.entries_read}, {verb} {report.entries_stamped}"
    )


def _parse(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO time: {raw!r}", param_hint="--at") from exc
    if value.tzinfo is None:
        raise click.BadParameter("give a UTC offset (e.g. Z)", param_hint="--at")
    return value.astimezone(UTC)
