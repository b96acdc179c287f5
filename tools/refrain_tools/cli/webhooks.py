"""`refrain webhooks`: operator tools for the webhook audit trail."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import click

from refrain.bootstrap import build_parking_lot, build_stored_requests, build_webhook_service
from refrain.clocks import clock_from_env
from refrain.ingest.replay import ReplayResult, replay_failed, replay_one
from refrain.settings import CloudSettings


@click.group()
def webhooks() -> None:
    """Inspect and replay stored webhook requests."""


@webhooks.command()
@click.argument("audit_id", required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Replay every failed or unmatched one.")
def replay(audit_id: str | None, all_failed: bool) -> None:
    """Run stored request AUDIT_ID (or every failed one) through processing again.

    Safe to repeat: events applied before are recognised as duplicates.
    """
    if bool(audit_id) == all_failed:
        raise click.UsageError("give an AUDIT_ID or --failed (not both)")
    settings = CloudSettings()
    audit = build_stored_requests(settings)
    service = build_webhook_service(settings)
    try:
        results = (
            replay_failed(service, audit)
            if all_failed
            else [replay_one(service, audit, str(audit_id))]
        )
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    for result in results:
        _report(result)
    if not results:
        click.echo("nothing to replay")


def _report(result: ReplayResult) -> None:
    click.echo(f"{result.audit_id} {result.provider} -> {result.status} {result.body}")


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _duration(raw: str | None) -> timedelta | None:
    if raw is None:
        return None
    match = _DURATION.match(raw.strip())
    if match is None:
        raise click.BadParameter(f"{raw!r}: a number and s, m, h or d (e.g. 1h)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@webhooks.command()
@click.option(
    "--older-than", "older_than", default=None, help="Only what waited this long (1h, 2d)."
)
@click.option("--limit", default=500, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def unmatched(older_than: str | None, limit: int, as_json: bool) -> None:
    """Authentic provider events that are parked: waiting for a subscription or a reference,
    or for an operator (an unknown price or plan). Oldest first.

    Waiting ones are applied by themselves when what they wait for appears; the
    others with `refrain webhooks replay AUDIT_ID` once the configuration is fixed.
    """
    now = clock_from_env().now()
    wait = _duration(older_than)
    parked = build_parking_lot().listing(now - wait if wait else None, limit)
    rows = [
        {
            "key": p.key,
            "provider": p.provider,
            "event_type": p.event_type,
            "waits_for": p.waits_for or "operator",
            "reason": p.reason,
            "age_s": round((now - p.parked_at).total_seconds()),
            "checks": p.checks,
            "audit_id": p.audit_id,
        }
        for p in parked
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    for row in rows:
        click.echo(
            f"{row['age_s']:>8}s  {row['provider']:<11} {row['event_type'] or '-':<34} "
            f"waits for {row['waits_for']}  ({row['reason']})  audit {row['audit_id']}"
        )
    click.echo(f"{len(rows)} parked")
