"""`refrain demo`: the README's main job."""

from __future__ import annotations

import time

import click
from rich.console import Console
from rich.table import Table

from refrain.demo.smoke import run_smoke
from refrain.stack.config import StackConfig
from refrain.stack.manager import StackError, StackManager, group_alive
from refrain.stack.prerequisites import MissingPrerequisite
from refrain.stack.seed import pointed_at


@click.command()
@click.option("--keep", is_flag=True, help="Leave the stack running afterwards.")
def demo(keep: bool) -> None:
    """Start the local stack, exercise every service through the real clients, stop it."""
    console = Console()
    manager = StackManager(StackConfig())
    already_up = any(group_alive(s.pid) for s in manager.read_state().values())
    started = time.monotonic()
    try:
        with console.status("starting the local stack (Firestore, Pub/Sub, BigQuery, SES)…"):
            up_s = manager.up()
        console.print(f"[green]stack up[/] in {up_s:.1f}s")
        with pointed_at(manager.config) as settings:
            steps = run_smoke(manager.config, settings)
    except (MissingPrerequisite, StackError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if not keep and not already_up:
            with console.status("stopping what the demo started…"):
                stopped = manager.down()
            console.print(f"stopped: {', '.join(stopped)}")
    table = Table(title="Refrain local stack smoke run")
    table.add_column("step")
    table.add_column("what happened")
    table.add_column("ms", justify="right")
    for step in steps:
        table.add_row(step.name, step.outcome, f"{step.seconds * 1000:.0f}")
    console.print(table)
    console.print(f"demo finished in {time.monotonic() - started:.1f}s")
