"""`refrain stack smoke`: each local stand-in exercised once through the real client."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from refrain_tools.demo.smoke import run_smoke
from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.manager import StackError, StackManager
from refrain_tools.stack.prerequisites import MissingPrerequisite
from refrain_tools.stack.seed import pointed_at


def run() -> None:
    console = Console()
    manager = StackManager(StackConfig())
    try:
        with manager.borrowed(), pointed_at(manager.config) as settings:
            steps = run_smoke(manager.config, settings)
    except (MissingPrerequisite, StackError) as exc:
        raise click.ClickException(str(exc)) from exc
    table = Table(title="local stack smoke run")
    table.add_column("step")
    table.add_column("what happened")
    table.add_column("ms", justify="right")
    for step in steps:
        table.add_row(step.name, step.outcome, f"{step.seconds * 1000:.0f}")
    console.print(table)
