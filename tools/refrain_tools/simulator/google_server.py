"""Local stand-ins for the Google endpoints the Play webhook calls.

One tiny HTTP server on 127.0.0.1 answers both:

* ``GET /oauth2/v1/certs``: the push token signing certificates, the way
  https://www.googleapis.com/oauth2/v1/certs publishes them (``{kid: PEM}``);
* ``GET /androidpublisher/v3/applications/{pkg}/purchases/subscriptionsv2/tokens/{t}``:
  ``purchases.subscriptionsv2.get``, with the SubscriptionPurchaseV2 the
  caller put in :attr:`PlayApi.purchases` (404 for an unknown token).

The webhook reaches it through ``GOOGLE_PLAY_PUSH_CERTS_URL`` and
``GOOGLE_PLAY_API_BASE_URL`` (with ``GOOGLE_PLAY_API_ANONYMOUS=true``).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from refrain_tools.simulator.google_play import GoogleSigner, google_signer

_PURCHASE_PATH = re.compile(
    r"^/androidpublisher/v3/applications/([^/]+)/purchases/subscriptionsv2/tokens/([^/?]+)$"
)


@dataclass
class PlayApi:
    """What the stand-in answers: purchases by (package, token), or a forced status."""

    purchases: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    fail_with: int | None = None
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set_purchase(self, package: str, token: str, purchase: dict[str, Any]) -> None:
        with self.lock:
            self.purchases[(package, token)] = purchase

    def reset(self) -> None:
        with self.lock:
            self.purchases.clear()
            self.requests.clear()
            self.fail_with = None


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
            key = (unquote(match.group(1)), unquote(match.group(2)))
            with api.lock:
                api.requests.append(self.path)
                failure, purchase = api.fail_with, api.purchases.get(key)
            if failure is not None:
                self._send(failure, {"error": {"code": failure}})
            elif purchase is None:
                self._send(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
            else:
                self._send(200, purchase)

    return Handler


@dataclass
class LocalGoogle:
    """The running server: where it listens and what it answers."""

    api: PlayApi
    signer: GoogleSigner
    _server: ThreadingHTTPServer | None = None

    @classmethod
    def start(cls, signer: GoogleSigner | None = None) -> LocalGoogle:
        signer = signer or google_signer()
        api = PlayApi()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api, signer.certs()))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return cls(api, signer, server)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the server is stopped"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def certs_url(self) -> str:
        return f"{self.base_url}/oauth2/v1/certs"

    def env(self) -> dict[str, str]:
        """The webhook's settings that point it here (see refrain.ingest.store_routes)."""
        return {
            "GOOGLE_PLAY_PUSH_CERTS_URL": self.certs_url,
            "GOOGLE_PLAY_API_BASE_URL": self.base_url,
            "GOOGLE_PLAY_API_ANONYMOUS": "true",
        }

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
