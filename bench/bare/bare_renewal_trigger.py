"""Bare stand-in for functions/renewal_trigger (bench/cold_start.py's fair baseline).

No Refrain code: Firestore and the ordered Pub/Sub publisher, built at the first
delivery as Refrain builds them; renewal_tick runs the due query (nothing due),
renewal_charge one transaction reading the dedupe record and the subscription.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from datetime import UTC, datetime
from typing import Any

import functions_framework
from google.cloud import firestore, pubsub_v1  # type: ignore[attr-defined]

PROJECT = os.environ["GOOGLE_CLOUD_PROJECT"]


@functools.cache
def clients() -> tuple[Any, Any]:
    publisher = pubsub_v1.PublisherClient(
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
    )
    return firestore.Client(project=PROJECT), publisher


@functions_framework.cloud_event
def renewal_tick(cloud_event: Any) -> None:
    db, _ = clients()
    for shard in range(16):  # as Refrain's tick asks each of its 16 shards
        due = (
            db.collection("bare_subscriptions")
            .where(filter=firestore.FieldFilter("state", "in", ["active", "grace"]))
            .where(filter=firestore.FieldFilter("due_shard", "==", shard))
            .where(filter=firestore.FieldFilter("next_deadline_ts", "<=", datetime.now(UTC)))
            .order_by("next_deadline_ts")
            .limit(300)
        )
        list(due.stream())


@functions_framework.cloud_event
def renewal_charge(cloud_event: Any) -> None:
    db, _ = clients()
    message = json.loads(base64.b64decode(cloud_event.data["message"]["data"]))
    key = str(message.get("key") or message)[:100].replace("/", "_")

    @firestore.transactional
    def apply(transaction: Any) -> None:
        db.collection("bare_outbox").document(key).get(transaction=transaction)
        db.collection("bare_subscriptions").document(key).get(transaction=transaction)

    apply(db.transaction())
