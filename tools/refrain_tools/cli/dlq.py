"""`refrain dlq`: list and replay dead-lettered messages (logic in refrain_tools.ops.dlq)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from refrain.settings import CloudSettings

_REPLAY_HELP = """Publish held dead letters again to the ORIGINAL topic of their subscription.

Each message keeps its data, ordering key and attributes (minus the
CloudPubSubDeadLetter* ones Pub/Sub added) and gets `replay_for=<subscription>`;
it is acknowledged on the hold subscription only after the publish succeeded.

The topic may feed several subscriptions (subscription-events feeds receipt-email
and churn-export): every one of them receives the message again. That is safe:
every consumer is idempotent (it deduplicates on event_id), and `replay_for`
names the subscription that had failed. A crash between publish and ack replays
that message once more on the next run, equally harmless.
"""


def _queue() -> Any:
    from refrain.adapters.pubsub import build_ordered_publisher, build_subscriber
    from refrain_tools.ops.dlq import DeadLetterQueue

    settings = CloudSettings()
    publisher = build_ordered_publisher(settings)
    return DeadLetterQueue(build_subscriber(settings), publisher, settings.project)


def _routes(topic: str | None) -> list[Any]:
    from refrain_tools.ops.dlq import routes

    try:
        return routes(only=topic)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc


_TOPIC = click.option(
    "--topic",
    default=None,
    help="One dead-letter topic (or its subscription's name); default: all of them.",
)
_LIMIT = click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True,
    help="At most this many messages per dead-letter topic.",
)  # fmt: skip


_LIST_COLUMNS = {
    "message_id": "message",
    "type": "type",
    "event_id": "event_id",
    "subscription_id": "subscription_id",
    "publish_time": "dead-lettered at",
    "source_delivery_count": "attempts",
    "source_subscription": "from",
    "size": "bytes",
}


@click.group()
def dlq() -> None:
    """Dead-lettered messages: every subscription has `{subscription}-dead-letter`."""


@dlq.command("list")
@_TOPIC
@_LIMIT
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(topic: str | None, limit: int, as_json: bool) -> None:
    """Show held dead letters per topic without consuming them.

    Prints attributes (type, event_id, subscription_id), publish times, size and
    the delivery attempts Pub/Sub recorded; never the payload.
    """
    queue = _queue()
    out: dict[str, Any] = {}
    for route in _routes(topic):
        letters = queue.peek(route, limit)
        out[route.dead_letter_topic] = {
            "subscription": route.subscription,
            "topic": route.topic,
            "count": len(letters),
            "messages": [m.summary() for m in letters],
        }
    if as_json:
        click.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    console = Console() if sys.stdout.isatty() else Console(width=180)
    for name, entry in out.items():
        console.print(f"[bold]{name}[/bold] ({entry['subscription']} <- {entry['topic']}): "
                      f"{entry['count']} held")  # fmt: skip
        if not entry["messages"]:
            continue
        columns = _LIST_COLUMNS
        table = Table(*columns.values())
        for message in entry["messages"]:
            table.add_row(*(str(message.get(c) or "") for c in columns))
        console.print(table)


@dlq.command(help=_REPLAY_HELP)
@_TOPIC
@_LIMIT
@click.option("--dry-run", is_flag=True, help="Show what would be replayed; change nothing.")
def replay(topic: str | None, limit: int, dry_run: bool) -> None:
    queue = _queue()
    total = 0
    for route in _routes(topic):
        report = queue.replay(route, limit, dry_run=dry_run)
        if not report.letters:
            continue
        verb = "would replay" if dry_run else "replayed"
        count = len(report.letters) if dry_run else len(report.published_ids)
        total += count
        click.echo(f"{route.dead_letter_topic}: {verb} {count} to {route.topic} "
                   f"(replay_for={route.subscription})")  # fmt: skip
        for letter in report.letters:
            s = letter.summary()
            click.echo(f"  {s['message_id']} type={s['type']} event_id={s['event_id']} "
                       f"key={s['ordering_key'] or '-'}")  # fmt: skip
    if total == 0:
        click.echo("nothing to replay")
