"""`refrain stack`: run the local stand-ins for Firestore, Pub/Sub, BigQuery and SES."""

from __future__ import annotations

import json

import click

from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.manager import StackError, StackManager
from refrain_tools.stack.prerequisites import MissingPrerequisite


def _manager() -> StackManager:
    return StackManager(StackConfig())


@click.group()
def stack() -> None:
    """Start, inspect, reset and stop the local stack.

    Ports default to 8601-8605 (REFRAIN_STACK_PORT_BASE moves the block,
    REFRAIN_STACK_<SERVICE>_PORT sets one); state and logs live in
    .refrain/stack (REFRAIN_STACK_STATE_DIR).
    """


@stack.command()
def up() -> None:
    """Start every service that is not running, wait until it answers, provision the topology."""
    try:
        seconds = _manager().up()
    except (MissingPrerequisite, StackError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f'stack up in {seconds:.1f}s; point clients at it with: eval "$(refrain stack env)"')


@stack.command()
def down() -> None:
    """Stop exactly the processes this stack started, and wait for their ports to close."""
    stopped = _manager().down()
    click.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Show each service's PID, whether it runs and whether it answers."""
    try:
        report = _manager().status()
    except MissingPrerequisite as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for name, row in report.items():
        state = "answering" if row["answering"] else ("starting" if row["running"] else "down")
        click.echo(f"{name:<10} {state:<10} pid={row['pid']} ports={row['ports']}")


@stack.command()
def env() -> None:
    """Print `export` lines that point every client library at the stack."""
    for line in _manager().env_lines():
        click.echo(line)


@stack.command()
def reset() -> None:
    """Empty all data (documents, messages, tables, mail) and re-provision the topology."""
    try:
        seconds = _manager().reset()
    except Exception as exc:
        raise click.ClickException(f"reset failed (is the stack up?): {exc}") from exc
    click.echo(f"stack reset in {seconds:.2f}s")


@stack.command()
def smoke() -> None:
    """Start the stack, exercise every service through the real clients, stop what it started."""
    from refrain_tools.cli.smoke import run

    run()
