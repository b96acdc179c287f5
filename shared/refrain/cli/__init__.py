"""The `refrain` command: the local stack, the demo, and (later) operator tools."""

from __future__ import annotations

import click

from refrain.cli.demo import demo
from refrain.cli.stack import stack


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Refrain: subscription commerce on Google Cloud."""


main.add_command(stack)
main.add_command(demo)
