"""`refrain subscriptions`: look at one subscription, and customer-care actions on it.

Every action goes through the same ledger transaction, state machine and
outbox as a provider event (see refrain.care.actions). Exit code 0 when the
action was applied (now, or by an earlier request with the same
--request-id), 1 when it was refused or could not be made; in that case
nothing changed.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from refrain.care.actions import Action, CareError, CareRequest, CareResult, new_request_id
from refrain.domain.clock import Clock, FixedClock, SystemClock
from refrain.observability import get_logger
from refrain.settings import CloudSettings


class IsoTime(click.ParamType[datetime]):
    """ISO-8601 date-time; without an offset it is taken as UTC."""

    name = "ISO-TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO-8601 date-time", param, ctx)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


ISO_TIME = IsoTime()


def _console() -> Console:
    """The terminal's width, or a wide fixed one when piped (tables stay readable)."""
    return Console() if sys.stdout.isatty() else Console(width=160)


@click.group()
def subscriptions() -> None:
    """Show a subscription and its history; customer-care actions (merchant-managed only)."""


@subscriptions.command()
@click.argument("subscription_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(subscription_id: str, as_json: bool) -> None:
    """The current state of SUBSCRIPTION_ID and every ledger record for it, oldest first.

    History lists each input (provider event, timer, charge outcome, care action)
    with its status (applied, stale, illegal, duplicate, ignored), the reason
    and the domain events it produced.
    """
    from refrain.bootstrap import build_care_store

    store = build_care_store(CloudSettings())
    sub = store.subscription(subscription_id)
    if sub is None:
        raise click.ClickException(f"no subscription {subscription_id!r}")
    state = sub.to_dict()
    history = store.history(subscription_id)
    if as_json:
        out = {"subscription": state, "history": [h.to_dict() for h in history]}
        click.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    console = _console()
    console.print(_state_table(subscription_id, state))
    table = Table(title=f"history ({len(history)} records, oldest first)")
    for column in ("#", "at (UTC)", "source", "input", "status"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason", overflow="fold")
    table.add_column("events", no_wrap=True)
    table.add_column("published", no_wrap=True)
    for n, entry in enumerate(history, start=1):
        table.add_row(
            str(n),
            (entry.created_at or "")[:19].replace("T", " "),
            entry.source or "",
            entry.input_type or "",
            entry.status or "",
            entry.reason or "",
            "\n".join(entry.event_types),
            "yes" if entry.published else "no",
        )
    console.print(table)


def _state_table(subscription_id: str, state: dict[str, Any]) -> Table:
    table = Table(title=f"subscription {subscription_id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in state.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        table.add_row(key, shown)
    return table


# care actions ----------------------------------------------------------------------------------

_CARE_HELP = (
    "Applied through the ledger like a provider event; provider-managed subscriptions "
    "are refused (they change through the provider)."
)


def _care_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(fn)
    fn = click.option(
        "--at", "at", type=ISO_TIME, default=None,
        help="Apply as of this time instead of now (the demo's injected clock).",
    )(fn)  # fmt: skip
    fn = click.option(
        "--request-id", default=None,
        help="Idempotency key: a retry with the same id is applied at most once.",
    )(fn)  # fmt: skip
    return fn


def _run(request_args: dict[str, Any], at: datetime | None, as_json: bool) -> None:
    from refrain.bootstrap import build_care_service

    clock: Clock = FixedClock(at) if at is not None else SystemClock()
    request_id = request_args.pop("request_id", None) or new_request_id()
    request = CareRequest(request_id=request_id, **request_args)
    # The audit line (one JSON object, no personal data) goes to stderr, beside the output.
    service = build_care_service(CloudSettings(), clock, get_logger("care", sys.stderr))
    try:
        result = service.perform(request)
    except CareError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(_result_dict(result), indent=2, sort_keys=True))
    else:
        _print_result(result)
    if not result.ok or result.charge_queued is False:
        click.get_current_context().exit(1)


def _result_dict(result: CareResult) -> dict[str, Any]:
    charge = result.charge
    return {
        "request_id": result.request_id,
        "entry_id": result.dedupe_key,
        "status": result.status.value,
        "previous_status": result.previous_status,
        "reason": result.reason,
        "events": [e.type.value for e in result.events],
        "published": result.published,
        "charge_queued": result.charge_queued,
        "proration_charge": None
        if charge is None
        else {"idempotency_key": charge.idempotency_key, **charge.amount.to_dict()},
        "subscription": result.subscription.to_dict() if result.subscription else None,
    }


def _print_result(result: CareResult) -> None:
    console = _console()
    status = result.status.value
    if result.previous_status:
        status += f" (request {result.request_id} was handled before: {result.previous_status})"
    style = "green" if result.ok else "red"
    console.print(f"[{style}]{status}[/{style}] request {result.request_id}")
    if result.reason:
        console.print(f"reason: {result.reason}")
    if result.events:
        types = ", ".join(e.type.value for e in result.events)
        note = "published" if result.published else "publish left to the outbox sweep"
        console.print(f"events: {types} ({note})")
    if result.charge is not None:
        c = result.charge
        console.print(
            f"upgrade billed first: {c.amount} (key {c.idempotency_key}); "
            "the plan changes when it succeeds"
        )
    if result.charge_queued is False:
        console.print(
            f"[red]the upgrade's charge could not be queued[/red]: run the same command "
            f"again with --request-id {result.request_id} to queue it"
        )
    sub = result.subscription
    if sub is not None:
        pending = sub.pending_plan.plan if sub.pending_plan else "-"
        console.print(
            f"state: {sub.state.value}  plan: {sub.plan}  pending plan: {pending}  "
            f"cancel at period end: {sub.cancel_at_period_end}  "
            f"period end: {sub.current_period_end.isoformat() if sub.current_period_end else '-'}"
            f"  resume at: {sub.resume_at.isoformat() if sub.resume_at else '-'}"
        )
        change = sub.price_change
        if change is not None or sub.price_grandfathered:
            consent = (
                "not needed"
                if change and not change.consent_required
                else (change.consented_at.isoformat() if change and change.consented_at else "-")
            )
            console.print(
                f"grandfathered: {sub.price_grandfathered}  price change: "
                + (f"{change.change_id} {change.price} from the renewal at "
                   f"{change.applies_from.isoformat()} (consent: {consent})" if change else "-")
            )  # fmt: skip


@subscriptions.command()
@click.argument("subscription_id")
@click.option("--reason", default=None, help="Why the customer cancels (kept with the event).")
@_care_options
def cancel(
    subscription_id: str, reason: str | None, request_id: str | None, at: datetime | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Cancel SUBSCRIPTION_ID at the end of its paid period.

    A subscription in dunning or paused has no paid period left and ends now.
    """
    args = {"action": Action.CANCEL, "subscription_id": subscription_id, "reason": reason}
    _run({**args, "request_id": request_id}, at, as_json)


@subscriptions.command()
@click.argument("subscription_id")
@_care_options
def revert(
    subscription_id: str, request_id: str | None, at: datetime | None, as_json: bool
) -> None:
    """Withdraw SUBSCRIPTION_ID's scheduled cancellation (it renews again)."""
    args = {"action": Action.REVERT, "subscription_id": subscription_id}
    _run({**args, "request_id": request_id}, at, as_json)


@subscriptions.command("change-plan")
@click.argument("subscription_id")
@click.argument("plan")
@click.option(
    "--preview", is_flag=True, help="Show the exact charge, tax and dates; change nothing."
)
@_care_options
def change_plan(
    subscription_id: str, plan: str, *, preview: bool, request_id: str | None,
    at: datetime | None, as_json: bool,
) -> None:  # fmt: skip
    """Move SUBSCRIPTION_ID to PLAN (a catalog plan id, priced in the subscription's market).

    A higher-ranked plan is an upgrade: the prorated rest of the period is charged first
    (by the renewal worker, once) and the plan changes when that charge succeeds. A
    lower-ranked one is a downgrade at the period end.
    """
    args = {"action": Action.CHANGE_PLAN, "subscription_id": subscription_id, "plan": plan}
    if preview:
        _preview({**args, "request_id": request_id or "preview"}, at, as_json)
        return
    _run({**args, "request_id": request_id}, at, as_json)


def _preview(request_args: dict[str, Any], at: datetime | None, as_json: bool) -> None:
    from refrain.bootstrap import build_care_store
    from refrain.care.actions import preview
    from refrain.domain.catalog import load_catalog

    clock: Clock = FixedClock(at) if at is not None else SystemClock()
    store = build_care_store(CloudSettings())  # reads only: the preview writes nothing
    try:
        shown = preview(CareRequest(**request_args), store, clock, load_catalog())
    except CareError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(shown.to_dict(), indent=2, sort_keys=True))
    else:
        console = _console()
        for key, value in shown.to_dict().items():
            console.print(f"{key}: {value}")
    if not shown.allowed:
        click.get_current_context().exit(1)


@subscriptions.command()
@click.argument("subscription_id")
@click.option("--resume-at", type=ISO_TIME, default=None, help="Resume automatically at this time.")
@_care_options
def pause(
    subscription_id: str, resume_at: datetime | None, request_id: str | None,
    at: datetime | None, as_json: bool,
) -> None:  # fmt: skip
    """Pause SUBSCRIPTION_ID now; unused paid time is carried over on resume."""
    args = {"action": Action.PAUSE, "subscription_id": subscription_id, "resume_at": resume_at}
    _run({**args, "request_id": request_id}, at, as_json)


@subscriptions.command()
@click.argument("subscription_id")
@_care_options
def resume(
    subscription_id: str, request_id: str | None, at: datetime | None, as_json: bool
) -> None:
    """Resume paused SUBSCRIPTION_ID now (its period is shifted by the paused time)."""
    args = {"action": Action.RESUME, "subscription_id": subscription_id}
    _run({**args, "request_id": request_id}, at, as_json)


@subscriptions.command("consent-price")
@click.argument("subscription_id")
@click.option("--change", "change_id", default=None, help="The price change agreed to "
              "(default: the one pending; refused if it names another).")  # fmt: skip
@_care_options
def consent_price(
    subscription_id: str, change_id: str | None, request_id: str | None, at: datetime | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Record that SUBSCRIPTION_ID agreed to its pending price change.

    In a market that needs consent (the catalog's price_consent_required), the renewal the
    change applies from charges the new price only with this; without it the subscription
    ends at the end of its paid period (churn reason price_increase).
    """
    args = {"action": Action.CONSENT_PRICE, "subscription_id": subscription_id}
    _run({**args, "change_id": change_id, "request_id": request_id}, at, as_json)


@subscriptions.command()
@click.argument("subscription_id")
@click.option("--off", is_flag=True, help="Lift the exemption: later price changes apply.")
@_care_options
def grandfather(
    subscription_id: str, off: bool, request_id: str | None, at: datetime | None, as_json: bool
) -> None:
    """Exempt SUBSCRIPTION_ID from price changes (it keeps its price; shown by `show`).

    A price change it was already told about is withdrawn for it.
    """
    args = {"action": Action.GRANDFATHER, "subscription_id": subscription_id, "exempt": not off}
    _run({**args, "request_id": request_id}, at, as_json)


for _command in (cancel, revert, change_plan, pause, resume, consent_price, grandfather):
    _command.help = f"{inspect.cleandoc(_command.help or '')}\n\n{_CARE_HELP}"
