"""`refrain webhooks`: operator tools for the webhook audit trail."""

from __future__ import annotations

import click

from refrain.bootstrap import build_stored_requests, build_webhook_service
from refrain.ingest.replay import ReplayResult, replay_failed, replay_one
from refrain.settings import CloudSettings


@click.group()
def webhooks() -> None:
    """Inspect and replay stored webhook requests."""


@webhooks.command()
@click.argument("audit_id", required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Replay every failed or unmappable one.")
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
