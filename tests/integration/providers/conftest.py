"""The real webhook function on the local stack, with local stand-ins for Google's endpoints.

Two tiny HTTP servers on 127.0.0.1: one publishes the push token signing
certificates the way https://www.googleapis.com/oauth2/v1/certs does, the
other answers ``purchases.subscriptionsv2.get`` with the documented
SubscriptionPurchaseV2 shape from a dict the test controls.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import functions_framework
import pytest
from flask.testing import FlaskClient
from google.cloud import firestore

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import keyed
from refrain.adapters.firestore_outbox import entry_key
from refrain.settings import CloudSettings
from tests.support import ROOT
from tests.unit.providers.support import (
    AUDIENCE,
    BUNDLE_ID,
    PACKAGE,
    PUSH_ACCOUNT,
    apple_pki,
    google_signer,
    play_envelope,
)

SOURCE = ROOT / "functions" / "checkout_webhook" / "main.py"
_PURCHASE_PATH = re.compile(
    r"^/androidpublisher/v3/applications/([^/]+)/purchases/subscriptionsv2/tokens/([^/?]+)$"
)


@dataclass
class PlayApi:
    """What the stand-in answers: purchases by (package, token), or a forced status."""

    purchases: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    fail_with: int | None = None
    requests: list[str] = field(default_factory=list)


@dataclass
class LocalGoogle:
    base_url: str
    certs_url: str
    api: PlayApi


def _handler(api: PlayApi, certs: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            if self.path == "/oauth2/v1/certs":
                self._send(200, certs)
                return
            match = _PURCHASE_PATH.match(self.path)
            if match is None:
                self._send(404, {"error": {"code": 404, "message": "not found"}})
                return
            api.requests.append(self.path)
            if api.fail_with is not None:
                self._send(api.fail_with, {"error": {"code": api.fail_with}})
                return
            key = (unquote(match.group(1)), unquote(match.group(2)))
            purchase = api.purchases.get(key)
            if purchase is None:
                self._send(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
            else:
                self._send(200, purchase)

    return Handler


@pytest.fixture(scope="session")
def local_google() -> Iterator[LocalGoogle]:
    api = PlayApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api, google_signer().certs()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield LocalGoogle(base, f"{base}/oauth2/v1/certs", api)
    finally:
        server.shutdown()
        server.server_close()


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
    local_google.api.purchases.clear()
    local_google.api.fail_with = None
    local_google.api.requests.clear()
    env = {
        "GOOGLE_PLAY_PUSH_AUDIENCE": AUDIENCE,
        "GOOGLE_PLAY_PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT,
        "GOOGLE_PLAY_PUSH_CERTS_URL": local_google.certs_url,
        "GOOGLE_PLAY_PACKAGE_NAMES": f"{PACKAGE},com.example.other",
        "GOOGLE_PLAY_PRODUCT_PLANS": json.dumps({"premium_monthly": "individual_monthly"}),
        "GOOGLE_PLAY_API_BASE_URL": local_google.base_url,
        "GOOGLE_PLAY_API_ANONYMOUS": "true",
        "APPLE_ROOT_CERTS": str(apple_pki().write_root(tmp_path)),
        "APPLE_BUNDLE_ID": BUNDLE_ID,
        "APPLE_ENVIRONMENT": "Sandbox",
        "APPLE_ENABLE_ONLINE_CHECKS": "false",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = functions_framework.create_app(target="checkout_webhook", source=str(SOURCE))
    yield Stores(app.test_client(), build_firestore(cloud), cloud, local_google)


__all__ = ["LocalGoogle", "PlayApi", "Stores", "play_envelope"]
