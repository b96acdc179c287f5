"""The real webhook function on the local stack, with local stand-ins for Google's endpoints.

The stand-ins (push token certificates, ``purchases.subscriptionsv2.get``) are the
simulator's :class:`~refrain_tools.simulator.google_server.LocalGoogle`, which the
demo uses too; each test puts the purchase it wants Google to answer in its
:class:`~refrain_tools.simulator.google_server.PlayApi`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from flask.testing import FlaskClient
from google.cloud import firestore

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import keyed
from refrain.adapters.firestore_outbox import entry_key
from refrain.settings import CloudSettings
from refrain_tools.simulator.apple import BUNDLE_ID, apple_pki
from refrain_tools.simulator.google_play import (
    AUDIENCE,
    PACKAGE,
    PUSH_ACCOUNT,
    google_signer,
)
from refrain_tools.simulator.google_server import LocalGoogle
from tests.support import ROOT

SOURCE = ROOT / "functions" / "checkout_webhook" / "main.py"


@pytest.fixture(scope="session")
def local_google() -> Iterator[LocalGoogle]:
    google = LocalGoogle.start()
    try:
        yield google
    finally:
        google.stop()


@dataclass
class Stores:
    client: FlaskClient
    db: firestore.Client
    settings: CloudSettings
    google: LocalGoogle

    def post_play(
        self, envelope: dict[str, Any], *, token: str | None = None, auth: bool = True
    ) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {token or google_signer().token()}"
        return self.client.post("/google-play", data=json.dumps(envelope), headers=headers)

    def post_apple(self, body: Any) -> Any:
        return self.client.post(
            "/apple", data=json.dumps(body), headers={"Content-Type": "application/json"}
        )

    def subscription(self, sub_id: str) -> dict[str, Any] | None:
        snap = keyed(self.db, "subscriptions", sub_id).get()
        return snap.to_dict() if snap.exists else None

    def outbox(self) -> dict[str, dict[str, Any]]:
        docs = [(d.id, d.to_dict() or {}) for d in self.db.collection("outbox").stream()]
        return {entry_key(doc_id, doc): doc for doc_id, doc in docs}

    def parked(self) -> list[dict[str, Any]]:
        return [d.to_dict() or {} for d in self.db.collection("parked_events").stream()]

    def documents(self) -> list[str]:
        return [f"{c.id}/{d.id}" for c in self.db.collections() for d in c.list_documents()]


@pytest.fixture
def stores(
    cloud: CloudSettings,
    local_google: LocalGoogle,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Stores]:
    local_google.api.reset()
    env = {
        **local_google.env(),
        "GOOGLE_PLAY_PUSH_AUDIENCE": AUDIENCE,
        "GOOGLE_PLAY_PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT,
        "GOOGLE_PLAY_PACKAGE_NAMES": f"{PACKAGE},com.example.other",
        "GOOGLE_PLAY_PRODUCT_PLANS": json.dumps({"premium_monthly": "individual_monthly"}),
        "APPLE_ROOT_CERTS": str(apple_pki().write_root(tmp_path)),
        "APPLE_BUNDLE_ID": BUNDLE_ID,
        "APPLE_ENVIRONMENT": "Sandbox",
        "APPLE_ENABLE_ONLINE_CHECKS": "false",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = functions_framework.create_app(target="checkout_webhook", source=str(SOURCE))
    yield Stores(app.test_client(), build_firestore(cloud), cloud, local_google)


@pytest.fixture
def door(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> Stores:
    """The stores' webhook with the card providers' secrets too: one door for all four."""
    from tests.integration.ingest.conftest import ADYEN_KEY, STRIPE_SECRET
    from tests.support import ADYEN_AUTH_ENV

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    monkeypatch.setenv("ADYEN_HMAC_KEY", ADYEN_KEY)
    for name, value in ADYEN_AUTH_ENV.items():
        monkeypatch.setenv(name, value)
    return stores


__all__ = ["Stores"]
