"""`refrain accounts show ACCOUNT`: what the subscriber sees, for customer service.

The same answers the account API gives the subscriber (refrain.account): the
entitlement (has access or not, why, until when), the subscriptions, the newest
invoices and credit notes. Read only.

`refrain accounts backfill-entitlements [--dry-run] [--batch N] [--restart]`: the
entitlement documents of subscriptions from before the ledger wrote them, recomputed
with the ledger's own function (refrain.account.backfill); idempotent and resumable.
"""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from refrain.account.models import MoneyOut
from refrain.domain.clock import Clock, FixedClock, SystemClock
from refrain.domain.money import Money, format_money
from refrain.settings import CloudSettings
from refrain_tools.cli.subscriptions import ISO_TIME


@click.group()
def accounts() -> None:
    """What a subscriber sees of their account; the entitlement backfill."""


@accounts.command()
@click.argument("account_id")
@click.option("--invoices", "count", default=10, show_default=True, help="Newest invoices shown.")
@click.option("--at", "at", type=ISO_TIME, default=None, help="As of this time (demo clock).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(account_id: str, count: int, at: datetime | None, as_json: bool) -> None:
    """ACCOUNT_ID's entitlement, subscriptions and newest invoices, as the account API says."""
    from refrain.bootstrap import build_account_view

    clock: Clock = FixedClock(at) if at is not None else SystemClock()
    service, documents = build_account_view(CloudSettings(), clock)
    entitlement, _ = service.entitlement(account_id)
    subscriptions = service.subscriptions(account_id)
    invoices = documents.invoices(account_id, None, str(max(1, min(count, 100))))
    if as_json:
        out = {
            "account_id": account_id,
            "entitlement": entitlement.model_dump(mode="json"),
            "subscriptions": subscriptions.model_dump(mode="json")["subscriptions"],
            "invoices": invoices.model_dump(mode="json")["invoices"],
        }
        click.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    console = Console(width=140)
    access = "[green]has access[/green]" if entitlement.has_access else "[red]no access[/red]"
    until = f" until {entitlement.until:%Y-%m-%d %H:%M} UTC" if entitlement.until else ""
    console.print(f"account {account_id}: {access} ({entitlement.reason}){until}")
    table = Table(title="subscriptions")
    for column in ("id", "plan", "state", "price", "period end", "next charge", "cancels"):
        table.add_column(column)
    for s in subscriptions.subscriptions:
        table.add_row(
            s.id, s.plan, s.state, _money(s.price),
            _day(s.current_period_end), _day(s.next_charge_at),
            "at period end" if s.cancel_at_period_end else "",
        )  # fmt: skip
    console.print(table)
    listed = Table(title="invoices (newest first)")
    for column in ("number", "kind", "issued", "gross", "corrects"):
        listed.add_column(column)
    for inv in invoices.invoices:
        listed.add_row(
            inv.number, inv.kind, _day(inv.issued_at),
            _money(inv.gross), inv.original_number or "",
        )  # fmt: skip
    console.print(listed)


@accounts.command("backfill-entitlements")
@click.option("--dry-run", is_flag=True, help="Count what would be written; write nothing.")
@click.option("--batch", default=200, show_default=True, type=click.IntRange(1, 500),
              help="Subscriptions per page (and per saved cursor).")  # fmt: skip
@click.option("--restart", is_flag=True, help="Ignore a saved cursor; start from the first.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def backfill_entitlements(dry_run: bool, batch: int, restart: bool, as_json: bool) -> None:
    """Write each subscription's entitlement entry where it is missing or differs from what
    the ledger would write; resumes after the last saved cursor."""
    from refrain.bootstrap import build_entitlement_backfill

    counts = build_entitlement_backfill(CloudSettings(), batch=batch).run(
        dry_run=dry_run, restart=restart
    )
    found = counts.as_dict()
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, **found}, indent=2, sort_keys=True))
        return
    resumed = f" (resumed after {counts.resumed_after})" if counts.resumed_after else ""
    verb = "would write" if dry_run else "written"
    click.echo(
        f"entitlement backfill{' (dry run)' if dry_run else ''}{resumed}: "
        f"{counts.subscriptions} subscriptions of {counts.accounts} accounts in "
        f"{counts.pages} pages; up to date {counts.up_to_date}, missing {counts.missing}, "
        f"differing {counts.differing}; {verb} "
        f"{counts.missing + counts.differing if dry_run else counts.written}"
        + ("" if dry_run else f", settled meanwhile {counts.settled_meanwhile}")
    )


def _money(value: MoneyOut) -> str:
    return format_money(Money(value.amount_minor, value.currency), "en")


def _day(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d}"
