"""Fixtures shared by integration packages."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import functions_framework
import pytest
from werkzeug.serving import make_server

from refrain.settings import CloudSettings
from tests.integration.ingest.conftest import ADYEN_KEY, SOURCE, STRIPE_SECRET
from tests.support import ADYEN_AUTH_ENV


@pytest.fixture
def webhook_url(cloud: CloudSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The real checkout_webhook function served over HTTP on a free port (the emulators)."""
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    monkeypatch.setenv("ADYEN_HMAC_KEY", ADYEN_KEY)
    for name, value in ADYEN_AUTH_ENV.items():
        monkeypatch.setenv(name, value)
    app = functions_framework.create_app(target="checkout_webhook", source=str(SOURCE))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
