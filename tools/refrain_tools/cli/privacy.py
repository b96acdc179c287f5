"""`refrain privacy erase ACCOUNT`: GDPR art. 17 on an operator's request.

The same service as the subscriber's ``POST /v1/me/erasure`` (refrain.privacy.erasure):
refused while a subscription still renews (exit 2, nothing changed); a second run finds
nothing and says so. Prints counts and the erasure receipt, never personal data.
"""

from __future__ import annotations

import json

import click

from refrain.privacy.erasure import ErasureBlocked, ErasureReport, InvalidAccount
from refrain.settings import CloudSettings

BLOCKED_EXIT = 2


@click.group()
def privacy() -> None:
    """Personal data on request (docs/PRIVACY.md)."""


@privacy.command()
@click.argument("account_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def erase(account_id: str, as_json: bool) -> None:
    """Erase ACCOUNT_ID's personal data; invoices are kept as the law requires."""
    from refrain.bootstrap import build_erasure

    try:
        report = build_erasure(CloudSettings()).erase(account_id)
    except InvalidAccount as exc:
        raise click.BadParameter(str(exc), param_hint="ACCOUNT_ID") from exc
    except ErasureBlocked as exc:
        _blocked(exc, as_json)
        raise SystemExit(BLOCKED_EXIT) from exc
    if as_json:
        click.echo(json.dumps(report_json(report), indent=2, sort_keys=True))
        return
    if report.status == "nothing_to_erase":
        click.echo(f"nothing to erase (first erased {report.erased_at:%Y-%m-%d %H:%M} UTC)")
    else:
        found = ", ".join(f"{n} {k}" for k, n in report.counts.items() if n)
        click.echo(f"erased: {found}")
    click.echo(f"receipt {report.account_hash}")


def report_json(report: ErasureReport) -> dict[str, object]:
    return {
        "status": report.status,
        "erased_at": report.erased_at.isoformat(),
        "receipt": report.account_hash,
        "counts": report.counts,
    }


def _blocked(exc: ErasureBlocked, as_json: bool) -> None:
    if as_json:
        doc = {"status": "blocked", "cancel_first": list(exc.subscription_ids)}
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    listed = ", ".join(exc.subscription_ids)
    click.echo(f"refused: cancel first ({listed}); nothing was changed", err=True)
