"""Bare stand-in for functions/checkout_webhook (bench/cold_start.py's fair baseline).

Served as ``main.py`` of a temporary ``checkout_webhook`` folder. No Refrain code: the
same framework, the same client libraries (Firestore, ordered Pub/Sub publisher, and
Stripe's library to verify the signature) and, on the first request, the same RPCs as a
new Stripe checkout: the audit record created, one transaction (two reads, four
writes, one commit), the parked-event query, one ordered publish, one batch commit.
"""

from __future__ import annotations

import json
import os
from typing import Any

import flask
import functions_framework
from google.cloud import firestore, pubsub_v1  # type: ignore[attr-defined]

PROJECT = os.environ["GOOGLE_CLOUD_PROJECT"]
db = firestore.Client(project=PROJECT)
publisher = pubsub_v1.PublisherClient(
    publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
)


@functions_framework.http
def checkout_webhook(request: flask.Request) -> flask.Response:
    import stripe  # as Refrain does: loaded by the first Stripe request

    body = request.get_data()
    stripe.WebhookSignature.verify_header(
        body.decode(), request.headers["Stripe-Signature"], os.environ["STRIPE_WEBHOOK_SECRET"]
    )
    event = json.loads(body)
    key, sid = str(event["id"]), f"bare_{event['id']}"
    audit = db.collection("bare_audit").document(key)
    audit.create({"body": body, "outcome": "received"})
    outbox = db.collection("bare_outbox").document(key)
    sub = db.collection("bare_subscriptions").document(sid)

    @firestore.transactional
    def apply(transaction: Any) -> None:
        outbox.get(transaction=transaction)
        sub.get(transaction=transaction)
        transaction.create(outbox, {"events": [body], "published": False})
        transaction.set(sub, {"state": "active"})
        transaction.set(db.collection("bare_customers").document(sid), {"n": 1}, merge=True)
        transaction.set(db.collection("bare_refs").document(sid), {"sid": sid})

    apply(db.transaction())
    parked = db.collection("bare_parked").where(
        filter=firestore.FieldFilter("waits_for", "in", [sid])
    )
    list(parked.stream())
    topic = publisher.topic_path(PROJECT, "subscription-events")
    publisher.publish(topic, body[:500], ordering_key=sid, type="bare").result(timeout=30)
    batch = db.batch()
    batch.update(audit, {"outcome": "applied"})
    batch.update(outbox, {"published": True})
    batch.commit()
    return flask.Response("ok", status=200)


@functions_framework.cloud_event
def outbox_sweep(cloud_event: Any) -> None:
    """What a sweep with nothing to do reads: unpublished entries, parked events due."""
    for shard in range(16):  # as Refrain's sweep asks each of its 16 shards
        unpublished = (
            db.collection("bare_outbox")
            .where(filter=firestore.FieldFilter("published", "==", False))
            .where(filter=firestore.FieldFilter("sweep_shard", "==", shard))
        )
        list(unpublished.limit(13).stream())
    due = db.collection("bare_parked").where(filter=firestore.FieldFilter("due", "<=", 0))
    list(due.limit(200).stream())
