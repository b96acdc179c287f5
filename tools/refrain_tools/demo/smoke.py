"""A readable smoke run of the local stack through the real client libraries.

Each step exercises the property the product relies on: a transactional
create() precondition (dedupe records), ordered publish and pull (per
subscription ordering), a BigQuery insert and query (churn signals), and an
SES send read back from the mail server (receipts).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_string

from google.api_core.exceptions import AlreadyExists, Conflict
from google.cloud import firestore

from refrain.adapters.bigquery import build_bigquery
from refrain.adapters.firestore import build_firestore
from refrain.adapters.pubsub import OrderedPublisher, build_publisher, build_subscriber
from refrain.adapters.ses_raw import RawSesMailer, build_raw_ses
from refrain.invoicing.mime import build_mime
from refrain.invoicing.render import RenderedMail
from refrain.settings import CloudSettings
from refrain.topology import ANALYTICS_DATASET, SUBSCRIPTION_EVENTS
from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.mailbox import sent_raw_mail


@dataclass
class Step:
    name: str
    outcome: str
    seconds: float


def run_smoke(config: StackConfig, settings: CloudSettings) -> list[Step]:
    run_id = uuid.uuid4().hex[:8]
    steps: list[Step] = []

    def timed(name: str, fn: Callable[[], str]) -> None:
        started = time.monotonic()
        outcome = fn()
        steps.append(Step(name, outcome, time.monotonic() - started))

    timed("Firestore transaction with create() precondition", lambda: _firestore(settings, run_id))
    timed("Pub/Sub ordered publish and pull", lambda: _pubsub(settings, run_id))
    timed("BigQuery insert and query", lambda: _bigquery(settings, run_id))
    timed("SES send and read-back", lambda: _ses(config, settings, run_id))
    timed("Firebase Auth sign-up and ID token", lambda: _auth(config, run_id))
    return steps


def _firestore(settings: CloudSettings, run_id: str) -> str:
    db = build_firestore(settings)
    ref = db.collection("smoke").document(f"charge-{run_id}")

    @firestore.transactional
    def claim(tx: firestore.Transaction) -> None:
        tx.create(ref, {"state": "claimed", "amount_minor": 1299, "currency": "SEK"})

    claim(db.transaction())
    try:
        claim(db.transaction())
        second = "second create() was accepted (precondition broken!)"
    except (AlreadyExists, Conflict):
        second = "second create() refused"
    snapshot = ref.get()
    data = snapshot.to_dict() or {}
    return f"created {ref.id} ({data['amount_minor']} {data['currency']} minor units); {second}"


def _pubsub(settings: CloudSettings, run_id: str) -> str:
    publisher = OrderedPublisher(build_publisher(settings), settings.project)
    key = f"sub-{run_id}"
    sent = [f"{run_id}-{i}" for i in range(5)]
    for payload in sent:
        publisher.publish(SUBSCRIPTION_EVENTS, payload.encode(), {"type": "smoke"}, key)
    subscriber = build_subscriber(settings)
    path = subscriber.subscription_path(settings.project, "receipt-email")
    received: list[str] = []
    deadline = time.monotonic() + 30
    while len(received) < len(sent) and time.monotonic() < deadline:
        response = subscriber.pull(request={"subscription": path, "max_messages": 10}, timeout=10)
        ack_ids = []
        for msg in response.received_messages:
            ack_ids.append(msg.ack_id)
            if msg.message.ordering_key == key:
                received.append(msg.message.data.decode())
        if ack_ids:
            subscriber.acknowledge(request={"subscription": path, "ack_ids": ack_ids})
    subscriber.close()
    verdict = "in order" if received == sent else f"OUT OF ORDER {received}"
    return f"published {len(sent)} with ordering key {key}; pulled {len(received)} {verdict}"


def _bigquery(settings: CloudSettings, run_id: str) -> str:
    client = build_bigquery(settings)
    table = f"{settings.project}.{ANALYTICS_DATASET}.churn_signals"
    row = {
        "signal_id": f"smoke-{run_id}",
        "signal_type": "activated",
        "occurred_at": "2026-01-01T00:00:00Z",
        "subscriber_key": "0" * 64,
        "market": "SE",
        "currency": "SEK",
        "price_minor": 12900,
        "schema_version": 1,
    }
    errors = client.insert_rows_json(table, [row])
    if errors:
        raise RuntimeError(f"insert failed: {errors}")
    query = f"SELECT signal_type, price_minor FROM `{table}` WHERE signal_id = @id"  # noqa: S608
    from google.cloud import bigquery

    job = client.query(
        query,
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("id", "STRING", f"smoke-{run_id}")]
        ),
    )
    rows = list(job.result())
    client.close()
    return f"inserted 1 row; query returned {[(r[0], r[1]) for r in rows]}"


def _ses(config: StackConfig, settings: CloudSettings, run_id: str) -> str:
    to = "demo.customer@example.com"
    mail = RenderedMail(
        subject=f"Your Refrain receipt {run_id}",
        text="Thanks for your payment.",
        html="<p>Thanks for your payment.</p>",
    )
    raw = build_mime(sender=settings.mail_from, sender_name=None, to=to, mail=mail)
    message_id = RawSesMailer(build_raw_ses(settings)).send_raw(
        sender=settings.mail_from, to=to, raw=raw
    )
    found = [m for m in sent_raw_mail(config) if m.get("id") == message_id]
    subject = message_from_string(found[0]["raw_data"])["Subject"] if found else "nothing"
    return f"sent message {message_id[:12]}…; read back from the mail server: {subject!r}"


def _auth(config: StackConfig, run_id: str) -> str:
    import requests

    from refrain.account.auth import unverified_parts

    base = f"http://{config.host}:{config.auth_port}"
    answer = requests.post(
        f"{base}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=local",
        json={"email": f"smoke-{run_id}@example.com", "password": f"pw-{run_id}",
              "returnSecureToken": True},
        timeout=10,
    )  # fmt: skip
    answer.raise_for_status()
    header, claims, _ = unverified_parts(answer.json()["idToken"])
    return f"user {claims['sub'][:8]}…: token alg {header.get('alg')}, aud {claims.get('aud')}"
