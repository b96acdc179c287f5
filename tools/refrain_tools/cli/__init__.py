"""The `refrain` command: the local stack, the demo, and (later) operator tools."""

from __future__ import annotations

import click

from refrain_tools.cli.accounts import accounts
from refrain_tools.cli.demo import demo
from refrain_tools.cli.dlq import dlq
from refrain_tools.cli.experiments import experiments
from refrain_tools.cli.exports import exports
from refrain_tools.cli.models import models
from refrain_tools.cli.prices import prices
from refrain_tools.cli.privacy import privacy
from refrain_tools.cli.refunds import refunds
from refrain_tools.cli.renewals import renewals
from refrain_tools.cli.stack import stack
from refrain_tools.cli.subscriptions import subscriptions
from refrain_tools.cli.webhooks import webhooks
from refrain_tools.infra.commands import package


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Refrain: subscription commerce on Google Cloud."""


main.add_command(stack)
main.add_command(demo)
main.add_command(webhooks)
main.add_command(package)
main.add_command(exports)
main.add_command(experiments)
main.add_command(models)
main.add_command(renewals)
main.add_command(subscriptions)
main.add_command(dlq)
main.add_command(refunds)
main.add_command(accounts)
main.add_command(prices)
main.add_command(privacy)
