"""`refrain demo`: the README's main job — a subscription business on the local stack."""

from __future__ import annotations

import signal
import time
from contextlib import ExitStack
from pathlib import Path

import click
import requests
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from refrain_tools.demo.account_page import DemoSubscriber, open_account_page
from refrain_tools.demo.report import Check, Summary, revenue_lines
from refrain_tools.demo.run import DemoOptions, DemoRun
from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.manager import StackError, StackManager
from refrain_tools.stack.prerequisites import MissingPrerequisite
from refrain_tools.stack.seed import pointed_at


@click.command()
@click.option("--customers", default=150, show_default=True, help="How many customers sign up.")
@click.option(
    "--store-customers",
    default=6,
    show_default=True,
    help="Provider-managed subscribers each for Stripe Billing, Google Play and the App Store.",
)
@click.option("--months", default=2, show_default=True, help="Months of renewals to simulate.")
@click.option("--seed", default=7, show_default=True, help="Scenario seed (reproducible runs).")
@click.option("--out", "out_dir", default=".refrain/demo", show_default=True, type=click.Path())
@click.option("--keep", is_flag=True, help="Leave the stack running afterwards.")
@click.option(
    "--serve",
    is_flag=True,
    help="After the summary, keep the stack and functions up (Ctrl-C stops them) so the "
    "account page it links to can be used with the demo subscriber's credentials.",
)
def demo(
    *, customers: int, store_customers: int, months: int, seed: int, out_dir: str, keep: bool,
    serve: bool,
) -> None:  # fmt: skip
    """Run a small subscription business end to end; exit 1 if an invariant broke."""
    console = Console()
    manager = StackManager(StackConfig())
    started = time.monotonic()
    options = DemoOptions(
        customers=customers,
        store_customers=store_customers,
        months=months,
        seed=seed,
        out_dir=Path(out_dir),
    )
    try:
        with ExitStack() as stack:
            with console.status("starting the local stack (Firestore, Pub/Sub, BigQuery, SES)…"):
                stack.enter_context(manager.borrowed(keep=keep))
            settings = stack.enter_context(pointed_at(manager.config))
            run = DemoRun(manager, settings, options)
            try:
                with console.status("serving the functions with functions-framework…"):
                    run.start()
                with Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=console,
                ) as bars:
                    tasks: dict[str, int] = {}

                    def progress(name: str, done: int, total: int) -> None:
                        key = name.split(" (", maxsplit=1)[0]
                        if key not in tasks:
                            tasks[key] = int(bars.add_task(name, total=total))
                        bars.update(tasks[key], completed=done, description=name)  # type: ignore[arg-type]

                    run.signups(progress)
                    run.first_weeks(progress)
                    run.months_pass(progress)
                with console.status("reading the results back…"):
                    summary, stats = run.summarise()
                    subscriber = _account_page(run, manager.config, summary)
                if serve:
                    _print(console, summary, stats, time.monotonic() - started, subscriber)
                    _serve(console)
            finally:
                run.stop()
    except (MissingPrerequisite, StackError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not serve:
        _print(console, summary, stats, time.monotonic() - started, subscriber)
    if not summary.ok:
        raise SystemExit(1)


_PAGE_CHECK = "a subscriber can use the account page"


def _account_page(run: DemoRun, config: StackConfig, summary: Summary) -> DemoSubscriber | None:
    """The demo subscriber on the account page; a failure to show it is a failed check."""
    env = config.client_environment()
    try:
        subscriber = open_account_page(
            run.db, env["FIREBASE_AUTH_EMULATOR_HOST"], run.settings.project,
            run.servers.urls["account_api"],
        )  # fmt: skip
    except (requests.RequestException, RuntimeError, KeyError) as exc:
        summary.checks.append(Check(_PAGE_CHECK, False, f"the demo subscriber cannot: {exc}"))
        return None
    shows = f"signed in (Auth emulator); shows {subscriber.plan}, {subscriber.invoices} receipts"
    summary.checks.append(Check(_PAGE_CHECK, True, shows))
    return subscriber


def _serve(console: Console) -> None:
    """Until Ctrl-C or SIGTERM (a background job ignores SIGINT); then the caller stops all."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    console.print("[bold]serving[/] the stack and the functions; Ctrl-C stops them")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print(
    console: Console, summary: Summary, stats: dict[str, object], seconds: float,
    subscriber: DemoSubscriber | None = None,
) -> None:  # fmt: skip
    grid = Table.grid(padding=(0, 3))
    states = Table(title="subscriptions by state")
    states.add_column("state")
    states.add_column("n", justify="right")
    for state, n in summary.states.most_common():
        states.add_row(state, str(n))
    revenue = Table(title="revenue by currency (invoices minus credit notes)")
    revenue.add_column("currency")
    revenue.add_column("amount", justify="right")
    for currency, amount in revenue_lines(summary):
        revenue.add_row(currency, amount)
    signals = Table(title="churn signals in BigQuery")
    signals.add_column("signal_type")
    signals.add_column("rows", justify="right")
    for signal_type, n in summary.signals:
        signals.add_row(signal_type, str(n))
    grid.add_row(states, revenue, signals)
    console.print(grid)
    console.print(f"[bold]query:[/] {summary.signals_query}")
    console.print(
        f"receipts sent: {summary.receipts_sent}; sample: {summary.sample_html} and "
        f"{summary.sample_pdf}"
    )
    console.print(_modes_table(summary))
    parked = ", ".join(f"{k}: {n}" for k, n in sorted(summary.parked.items())) or "none"
    console.print(f"parked provider events (refrain webhooks unmatched): {parked}")
    console.print("run: " + "; ".join(f"{k}: {v}" for k, v in stats.items()))
    checks = Table(title="invariants (docs/DESIGN.md)")
    checks.add_column("")
    checks.add_column("invariant")
    checks.add_column("evidence")
    for check in summary.checks:
        checks.add_row("[green]✓[/]" if check.ok else "[red]✗[/]", check.name, check.detail)
    console.print(checks)
    if subscriber is not None:
        console.print(
            f"[bold]account page:[/] {subscriber.url} — sign in as {subscriber.email} / "
            f"{subscriber.password} (Auth emulator; up while `refrain demo --serve` runs)"
        )
    verdict = "[green]all invariants held[/]" if summary.ok else "[red]INVARIANT BROKEN[/]"
    console.print(f"{verdict} — finished in {seconds:.0f}s")


def _modes_table(summary: Summary) -> Table:
    """Subscribers by who bills them (Refrain or the provider), and where they ended."""
    table = Table(title="subscribers by billing mode and provider")
    table.add_column("billing")
    table.add_column("provider")
    table.add_column("n", justify="right")
    table.add_column("final states")
    for (mode, provider), states in sorted(summary.modes.items()):
        finals = ", ".join(f"{state}: {n}" for state, n in states.most_common())
        table.add_row(mode, provider, str(sum(states.values())), finals)
    return table
