"""`refrain prices`: schedule price changes for existing subscribers, list them, notify.

``schedule`` validates every change first and writes nothing if one is wrong (exit 1,
every problem listed); then it creates the versions and tells each affected subscriber
(``notify``), through the same ledger and outbox as every other change. docs/PRICING.md
has the rules: notice days, consent markets, grandfathering, the app stores.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from refrain.domain.clock import Clock, FixedClock, SystemClock
from refrain.observability import get_logger
from refrain.pricing.files import parse_effective, read_rows
from refrain.pricing.schedule import PriceChangeRefused, PriceChangeRow, ScheduledPrice
from refrain.pricing.service import NoticeReport, PriceChangeService
from refrain.settings import CloudSettings
from refrain_tools.cli.subscriptions import ISO_TIME, _console


class EffectiveDate(click.ParamType[datetime]):
    """A date (midnight UTC) or an ISO-8601 time (UTC without an offset)."""

    name = "DATE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        try:
            return parse_effective(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _service(at: datetime | None) -> PriceChangeService:
    from refrain.bootstrap import build_price_service

    clock: Clock = FixedClock(at) if at is not None else SystemClock()
    return build_price_service(CloudSettings(), clock, get_logger("pricing", sys.stderr))


@click.group()
def prices() -> None:
    """Price changes for existing subscribers: schedule, list, notify."""


@prices.command()
@click.argument("plan", required=False)
@click.argument("market", required=False)
@click.argument("new_amount", required=False)
@click.option(
    "--effective",
    type=EffectiveDate(),
    default=None,
    help="When the new price takes effect: a date (midnight UTC) or ISO-8601 time.",
)
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Bulk: a .csv (plan,market,amount,effective) or .toml "
    "([[change]] tables) of changes, all validated before any is written.",
)
@click.option("--dry-run", is_flag=True, help="Validate and show the versions; write nothing.")
@click.option("--no-notify", is_flag=True, help="Write the versions; notify later (`notify`).")
@click.option("--at", type=ISO_TIME, default=None, help="Act as of this time (the demo's clock).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def schedule(  # noqa: PLR0917 - click passes every option
    plan: str | None, market: str | None, new_amount: str | None, effective: datetime | None,
    path: Path | None, dry_run: bool, no_notify: bool, at: datetime | None, as_json: bool,
) -> None:  # fmt: skip
    """Schedule PLAN's price in MARKET to become NEW_AMOUNT (major units, e.g. 12.99).

    The new price is a new version of that price (the catalog's is version 1). Each
    subscriber of the plan in the market is told now (a localized e-mail) and pays the
    new price from their first renewal that is on or after --effective and at least the
    market's notice days away; a market that needs consent ends the subscription at the
    end of its paid period instead, unless the subscriber agreed (`refrain subscriptions
    consent-price`). Grandfathered subscriptions keep their price.

    Refused, with nothing written: an unknown plan or market, an amount that is not
    positive or has the wrong number of decimals for the currency, an effective date
    closer than the market's notice days.
    """
    try:
        rows = _rows(plan, market, new_amount, effective, path)
        service = _service(at)
        changes = service.validate(rows) if dry_run else service.schedule(rows)
    except PriceChangeRefused as exc:
        _refuse(exc, as_json)
        return
    reports = [] if dry_run or no_notify else [service.notify(c.change_id) for c in changes]
    if as_json:
        out = {"dry_run": dry_run, "changes": [c.to_dict() for c in changes],
               "notices": [r.to_dict() for r in reports]}  # fmt: skip
        click.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    console = _console()
    verb = "would schedule" if dry_run else "scheduled"
    for change in changes:
        console.print(f"{verb} {_describe(change)}")
    for report in reports:
        _print_report(report)


def _rows(
    plan: str | None, market: str | None, amount: str | None, effective: datetime | None,
    path: Path | None,
) -> list[PriceChangeRow]:  # fmt: skip
    if path is not None:
        if plan or market or amount or effective:
            raise PriceChangeRefused(["give either PLAN MARKET NEW_AMOUNT --effective or --file"])
        return read_rows(path)
    missing = [n for n, v in (("PLAN", plan), ("MARKET", market), ("NEW_AMOUNT", amount),
                              ("--effective", effective)) if v is None]  # fmt: skip
    if missing:
        raise PriceChangeRefused([f"missing {', '.join(missing)} (or use --file)"])
    assert plan and market and amount and effective
    return [PriceChangeRow(plan=plan, market=market, amount=amount, effective_at=effective)]


def _refuse(exc: PriceChangeRefused, as_json: bool) -> None:
    if as_json:
        body = {"refused": True, "problems": list(exc.problems), "written": 0}
        click.echo(json.dumps(body, indent=2, sort_keys=True))
    else:
        click.echo("refused, nothing written:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
    click.get_current_context().exit(1)


def _describe(change: ScheduledPrice) -> str:
    consent = ", needs consent" if change.consent_required else ""
    return (
        f"{change.change_id}: {change.plan} in {change.market} at {change.price} from "
        f"{change.effective_at.isoformat()} ({change.notice_days} days' notice{consent})"
    )


def _print_report(report: NoticeReport) -> None:
    refused = ", ".join(f"{k}: {v}" for k, v in sorted(report.refused.items())) or "none"
    _console().print(
        f"{report.change_id}: {report.subscribers} subscribers, {report.notified} told now, "
        f"{report.already} told before, refused: {refused}"
    )


@prices.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(as_json: bool) -> None:
    """Every scheduled price version (the catalog's own prices are version 1)."""
    changes = _service(None).store.all()
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in changes], indent=2, sort_keys=True))
        return
    for change in changes:
        _console().print(_describe(change))
    if not changes:
        _console().print("no scheduled price changes")


@prices.command()
@click.argument("change_id")
@click.option("--at", type=ISO_TIME, default=None, help="Act as of this time (the demo's clock).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def notify(change_id: str, at: datetime | None, as_json: bool) -> None:
    """Tell every subscriber of CHANGE_ID's plan and market who was not told yet.

    Safe to run again (each subscriber is told once); it reaches those who signed up
    since, each with the full notice from the day they are told.
    """
    try:
        report = _service(at).notify(change_id)
    except PriceChangeRefused as exc:
        _refuse(exc, as_json)
        return
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        _print_report(report)
