"""The real checkout_webhook function, served by functions-framework, on the local stack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import functions_framework
import pytest
from flask.testing import FlaskClient
from google.cloud import firestore

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import keyed
from refrain.domain.events import DomainEvent, from_pubsub_message
from refrain.settings import CloudSettings
from refrain_tools.simulator import DeliveryPolicy, WebhookSender
from tests.support import (
    ADYEN_AUTH_ENV,
    ADYEN_PASSWORD,
    ADYEN_USER,
    FIXTURES,
    ROOT,
    adyen_auth,
    adyen_sign,
    pull_messages,
    stripe_header,
)

STRIPE_SECRET = "whsec_refrain_integration"
ADYEN_KEY = json.loads((FIXTURES / "adyen" / "hmac_vectors.json").read_text())["vectors"][0][
    "hmac_key_hex"
]
SOURCE = ROOT / "functions" / "checkout_webhook" / "main.py"


@contextmanager
def signed_sender(webhook_url: str, policy: DeliveryPolicy) -> Iterator[WebhookSender]:
    """The simulator's provider deliveries to ``webhook_url``, signed with this suite's
    Stripe secret and Adyen HMAC key and carrying Adyen's basic auth."""
    with WebhookSender(
        webhook_url, stripe_secret=STRIPE_SECRET, adyen_hmac_key=ADYEN_KEY, policy=policy,
        adyen_basic_auth=(ADYEN_USER, ADYEN_PASSWORD),
    ) as running:  # fmt: skip
        yield running


@dataclass
class Webhook:
    client: FlaskClient
    db: firestore.Client
    settings: CloudSettings

    def post_stripe(self, event: dict[str, Any], *, at: int | None = None) -> Any:
        body = json.dumps(event).encode()
        header = stripe_header(body, STRIPE_SECRET, at or int(time.time()))
        return self.client.post(
            "/stripe",
            data=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )

    def post_adyen(self, items: list[dict[str, Any]]) -> Any:
        body = {
            "live": "false",
            "notificationItems": [
                {"NotificationRequestItem": adyen_sign(item, ADYEN_KEY)} for item in items
            ],
        }
        return self.client.post("/adyen", json=body, headers=adyen_auth())

    def subscription(self, sub_id: str) -> dict[str, Any] | None:
        snap = keyed(self.db, "subscriptions", sub_id).get()
        return snap.to_dict() if snap.exists else None

    def documents(self) -> list[str]:
        """Every document path in the database (collections are shallow here)."""
        return [f"{c.id}/{d.id}" for c in self.db.collections() for d in c.list_documents()]


@pytest.fixture
def webhook(cloud: CloudSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", f"whsec_previous,{STRIPE_SECRET}")
    monkeypatch.setenv("ADYEN_HMAC_KEY", ADYEN_KEY)
    for name, value in ADYEN_AUTH_ENV.items():
        monkeypatch.setenv(name, value)
    app = functions_framework.create_app(target="checkout_webhook", source=str(SOURCE))
    yield Webhook(app.test_client(), build_firestore(cloud), cloud)


def pull_events(settings: CloudSettings, want: int | None = None) -> list[DomainEvent]:
    """Drain domain events from the churn-export pull subscription (tests serve no push)."""
    until = None if want is None else (lambda got: len(got) >= want)
    messages = pull_messages(settings, "churn-export", until, timeout_s=15)
    return [from_pubsub_message(m.data, dict(m.attributes)) for m in messages]


def stripe_event(name: str, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(
        (FIXTURES / "stripe" / "events" / f"{name}.json").read_text()
    )
    event.update(overrides)
    return event


def ago(days: float) -> int:
    return int(datetime.now(UTC).timestamp() - days * 86400)


MakeEvent = Callable[..., dict[str, Any]]
