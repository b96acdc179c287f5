"""The real account_api function over HTTP on the local stack, with the Firebase Auth emulator.

Users are created through the emulator's REST API (the Identity Toolkit ``accounts:signUp``
a client SDK calls) and their ID tokens are the emulator's own. Subscriptions are created
through the real ledger (a paid checkout), so their entitlement documents are the ledger's.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import functions_framework
import pytest
import requests
from google.cloud import firestore
from werkzeug.serving import make_server

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_ledger import FirestoreLedger
from refrain.domain import load_catalog
from refrain.domain.inputs import CheckoutCompleted
from refrain.domain.subscription import BillingMode, Subscription
from refrain.ledger import LedgerCommand, LedgerStatus
from refrain.settings import CloudSettings
from refrain_tools.simulator.google_server import LocalGoogle
from refrain_tools.stack.manager import StackManager
from tests.support import ROOT

ORIGIN = "https://app.example"
SERVICE_ACCOUNT = "support-tool@refrain-local.iam.gserviceaccount.com"
SERVICE_AUDIENCE = "refrain-account-api"
PASSWORD = "emulator-only-1"  # pragma: allowlist secret


@dataclass
class User:
    uid: str
    token: str
    email: str

    def auth(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}


@dataclass
class Emulator:
    """The Firebase Auth emulator, through its REST API."""

    base: str

    def sign_up(self) -> User:
        email = f"u{uuid.uuid4().hex[:10]}@example.com"
        answer = requests.post(
            f"{self.base}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=local",
            json={"email": email, "password": PASSWORD, "returnSecureToken": True},
            timeout=10,
        )
        answer.raise_for_status()
        body = answer.json()
        return User(body["localId"], body["idToken"], email)


@dataclass
class Api:
    url: str
    db: firestore.Client
    google: LocalGoogle
    rpcs: list[str] = field(default_factory=list)

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(self.url + path, headers=headers, timeout=20)

    def options(self, path: str, **headers: str) -> requests.Response:
        return requests.options(self.url + path, headers=headers, timeout=20)

    def post(self, path: str, body: Any = None, **headers: str) -> requests.Response:
        if body is None:
            return requests.post(self.url + path, headers=headers, timeout=20)
        return requests.post(self.url + path, json=body, headers=headers, timeout=20)

    def seed(
        self, uid: str, sub_id: str | None = None, plan: str = "individual_monthly", *,
        provider: str = "stripe", billing_mode: BillingMode = BillingMode.MERCHANT_MANAGED,
        payment_method_ref: str = "pm_sandbox_ok",
    ) -> str:  # fmt: skip
        """A paid SE subscription for ``uid`` through the real ledger, started a minute ago."""
        sub_id = sub_id or f"sub_{uuid.uuid4().hex[:12]}"
        at = datetime.now(UTC) - timedelta(minutes=1)
        offer = load_catalog().offer(plan, "SE")
        draft = Subscription.new(
            subscription_id=sub_id, account_id=uid, provider=provider,
            billing_mode=billing_mode, plan=offer.plan.id,
            plan_rank=offer.plan.rank, interval_months=offer.plan.interval.months, market="SE",
            price=offer.price, created_at=at,
        )  # fmt: skip
        checkout = CheckoutCompleted(
            input_id=f"evt_{sub_id}", occurred_at=at, payment_method_ref=payment_method_ref,
            paid=True, charge_id=f"ch_{sub_id}", amount=offer.price,
        )  # fmt: skip
        result = FirestoreLedger(self.db).apply(
            LedgerCommand(f"{provider}:evt_{sub_id}", sub_id, checkout, at, provider, draft=draft)
        )
        assert result.status is LedgerStatus.APPLIED
        return sub_id


@pytest.fixture
def emulator(stack: StackManager) -> Emulator:
    return Emulator(f"http://{stack.config.client_environment()['FIREBASE_AUTH_EMULATOR_HOST']}")


@pytest.fixture
def serve(cloud: CloudSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Api]]:
    """Start account_api (own module, own settings) with ``env`` on top of the stack's."""
    google = LocalGoogle.start()
    servers: list[Any] = []

    def start(**env: str) -> Api:
        settings = {
            "REFRAIN_ACCOUNT_CORS_ORIGINS": ORIGIN,
            "REFRAIN_FIREBASE_CERTS_URL": google.certs_url,
            "REFRAIN_ACCOUNT_SERVICE_CERTS_URL": google.certs_url,
            "REFRAIN_ACCOUNT_SERVICE_ACCOUNTS": SERVICE_ACCOUNT,
            "REFRAIN_ACCOUNT_SERVICE_AUDIENCE": SERVICE_AUDIENCE,
            **env,
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        app = functions_framework.create_app(
            target="account_api", source=str(ROOT / "functions" / "account_api" / "main.py")
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return Api(f"http://127.0.0.1:{server.server_port}", build_firestore(cloud), google)

    yield start
    for server in servers:
        server.shutdown()
    google.stop()


@pytest.fixture
def api(serve: Callable[..., Api]) -> Api:
    return serve()
