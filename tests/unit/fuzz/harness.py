"""The fuzz harness: a WebhookService on recording in-memory ports, with real verification.

Every port records what it was asked to do, so a test can say "nothing was
written" exactly: no audit record, no ledger command, no publish, no call to
Google's purchases API. Verification is the real code path with real keys:
a Stripe endpoint secret, Adyen's published test HMAC key, and for the app
stores a trust configuration that nothing the fuzzer sends can satisfy (an
Apple root certificate that signed nothing, Google certificates of a key that
signed nothing). Unit tests only: the integration suites run the real adapters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from refrain.domain.catalog import load_catalog
from refrain.domain.clock import FixedClock
from refrain.ingest import store_routes as store_module
from refrain.ingest.routes import WebhookSettings, card_routes
from refrain.ingest.service import WebhookService
from refrain.ingest.store_routes import StoreSettings
from refrain.observability import get_logger
from refrain.outbox import OutboxPublisher
from refrain.providers import google_play_push_auth
from refrain_tools.simulator.apple import ApplePKI
from refrain_tools.simulator.google_play import (
    AUDIENCE,
    PACKAGE,
    PUSH_ACCOUNT,
    GoogleSigner,
    play_purchase,
)
from tests.fakes.audit import RecordingAudit
from tests.fakes.ledger import MemoryLedger
from tests.fakes.outbox import RecordingRelay
from tests.fakes.parking import MemoryParkingLot
from tests.support import ADYEN_AUTH_ENV, FIXTURES

STRIPE_SECRET = "whsec_refrain_fuzz_only"  # pragma: allowlist secret
ADYEN_KEY: str = json.loads((FIXTURES / "adyen" / "hmac_vectors.json").read_text())["vectors"][0][
    "hmac_key_hex"
]
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Small enough that an oversized body is cheap to build, large enough for every fixture.
FUZZ_MAX_BODY = 64 * 1024
# What the service may answer at all (README "Status codes"); 503 only for a dependency
# outage, which the in-memory ports never have.
DOCUMENTED = frozenset({200, 400, 401, 404, 405, 413, 415, 422, 503})
REJECTIONS = frozenset({400, 401, 404, 405, 413, 415})
_SINK = open(os.devnull, "w")  # noqa: SIM115 - one sink for every fuzz logger, never closed


def fuzz_examples() -> int:
    """Examples per route: 10,000 under CI (the issue's floor), 500 locally; override with
    REFRAIN_FUZZ_EXAMPLES. Measured on 2 shared cores: ~3-6 ms per example unloaded, so
    10,000 is roughly 30-60 s per route."""
    configured = os.environ.get("REFRAIN_FUZZ_EXAMPLES")
    if configured:
        return int(configured)
    return 10_000 if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else 500


# -- recording ports -------------------------------------------------------------------------


@dataclass
class RecordingPurchases:
    """Google's purchases API: a call is a read at the provider on an unverified push."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def get_subscription(self, package_name: str, purchase_token: str) -> dict[str, Any]:
        self.calls.append((package_name, purchase_token))
        return play_purchase()


@dataclass
class _Response:
    status: int
    data: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class CertsEndpoint:
    """A google.auth transport Request serving {kid: PEM}, or failing like a network outage."""

    certs: dict[str, str] | None
    fetches: int = 0

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> _Response:
        from google.auth import exceptions

        self.fetches += 1
        if self.certs is None:
            raise exceptions.TransportError(f"cannot reach {url}")
        return _Response(200, json.dumps(self.certs).encode())


@dataclass
class Harness:
    service: WebhookService
    ledger: MemoryLedger
    audit: RecordingAudit
    relay: RecordingRelay
    purchases: RecordingPurchases
    certs: CertsEndpoint

    def writes(self) -> int:
        """Everything a request may only cause once it is verified."""
        return (
            len(self.audit.records)
            + len(self.audit.finished)
            + len(self.ledger.commands)
            + len(self.ledger.lookups)
            + len(self.relay.published)
            + len(self.purchases.calls)
        )

    def reset(self) -> None:
        self.audit.records.clear()
        self.audit.finished.clear()
        self.ledger.clear()
        self.relay.published.clear()
        self.purchases.calls.clear()


# -- trust configurations --------------------------------------------------------------------


@cache
def stranger_pki() -> ApplePKI:
    """An Apple root that signed nothing the fuzzer sends."""
    return ApplePKI()


@cache
def stranger_signer() -> GoogleSigner:
    """Google certificates of a key that signed nothing the fuzzer sends."""
    return GoogleSigner(kid="refrain-stranger-key")


@cache
def _root_file(pki_id: int, der: bytes) -> str:
    directory = Path(tempfile.mkdtemp(prefix="refrain-fuzz-apple-"))
    path = directory / f"root-{pki_id}.der"
    path.write_bytes(der)
    return str(path)


@contextmanager
def _serving(endpoint: CertsEndpoint) -> Iterator[None]:
    """Route google_play_push_auth's default transport to the fake endpoint (no network)."""
    original = google_play_push_auth.default_request
    google_play_push_auth.default_request = lambda: endpoint
    try:
        yield
    finally:
        google_play_push_auth.default_request = original


def build_harness(
    *,
    apple_root: ApplePKI | None = None,
    google_certs: dict[str, str] | None = None,
    certs_reachable: bool = True,
) -> Harness:
    """A service with every route; the app stores trust only what is passed in.

    Defaults: nothing from the app stores verifies (stranger root and stranger certs).
    """
    root = apple_root or stranger_pki()
    certs = google_certs if google_certs is not None else stranger_signer().certs()
    endpoint = CertsEndpoint(certs if certs_reachable else None)
    purchases = RecordingPurchases()
    # model_validate: the aliases, and nothing from the environment of the test run.
    webhook = WebhookSettings.model_validate(
        {"STRIPE_WEBHOOK_SECRET": STRIPE_SECRET, "ADYEN_HMAC_KEY": ADYEN_KEY, **ADYEN_AUTH_ENV}
    )
    store = StoreSettings.model_validate(
        {
            "GOOGLE_PLAY_PUSH_AUDIENCE": AUDIENCE,
            "GOOGLE_PLAY_PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT,
            "GOOGLE_PLAY_PUSH_CERTS_URL": "http://certs.invalid/oauth2/v1/certs",
            "GOOGLE_PLAY_PACKAGE_NAMES": PACKAGE,
            "GOOGLE_PLAY_PRODUCT_PLANS": {"premium_monthly": "individual_monthly"},
            "APPLE_ROOT_CERTS": _root_file(id(root), root.root_der),
            "APPLE_BUNDLE_ID": "com.refrain.app",
            "APPLE_ENVIRONMENT": "Sandbox",
            "APPLE_ENABLE_ONLINE_CHECKS": False,
        }
    )
    with _serving(endpoint):
        routes = {**card_routes(webhook), **store_module.store_routes(store, purchases)}
        ledger, audit, relay = MemoryLedger(), RecordingAudit(), RecordingRelay()
        log = get_logger("fuzz", stream=_SINK)
        service = WebhookService(
            routes=routes,
            ledger=ledger,
            publisher=OutboxPublisher(relay, ledger, FixedClock(NOW), log),
            audit=audit,
            parking=MemoryParkingLot(),
            catalog=load_catalog(),
            clock=lambda: NOW,
            log=log,
            max_body=FUZZ_MAX_BODY,
        )
        # Prime each PushAuthenticator's transport while the fake is installed.
        _prime_play(service, endpoint)
    return Harness(service, ledger, audit, relay, purchases, endpoint)


# Well-formed (header and payload JSON objects) so it reaches the certificate fetch.
_PRIMER = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"  # pragma: allowlist secret


def _prime_play(service: WebhookService, endpoint: CertsEndpoint) -> None:
    """The authenticator picks its transport on first use: make that use happen now."""
    service.handle(
        "POST",
        "/google-play",
        {"Content-Type": "application/json", "Authorization": f"Bearer {_PRIMER}"},
        b"{}",
    )
    endpoint.fetches = 0


# -- signing and oracles ---------------------------------------------------------------------


def stripe_sign(body: bytes, at: int | None = None, secret: str = STRIPE_SECRET) -> str:
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def stripe_signature_valid(body: bytes, header: str | None, tolerance_s: int = 300) -> bool:
    """Stripe's scheme, written out independently of the code under test."""
    if not header:
        return False
    pairs = [part.strip().partition("=") for part in header.split(",")]
    stamps = [v for k, _, v in pairs if k == "t"]
    if not stamps:
        return False
    try:
        timestamp = int(stamps[0])
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    expected = hmac.new(
        STRIPE_SECRET.encode(), stamps[0].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, _, v in pairs)


_ADYEN_FIELDS = ("pspReference", "originalReference", "merchantAccountCode", "merchantReference")


def adyen_item_valid(item: Any) -> bool:
    """Adyen's published HMAC scheme for one NotificationRequestItem, written out here."""
    if not isinstance(item, dict):
        return False
    try:
        amount = item["amount"]
        parts = [str(item.get(name, "")) for name in _ADYEN_FIELDS]
        parts += [str(amount["value"]), str(amount["currency"])]
        parts += [str(item["eventCode"]), str(item["success"])]
        given = item["additionalData"]["hmacSignature"]
        key = bytes.fromhex(ADYEN_KEY)
    except (KeyError, TypeError, ValueError):
        return False
    digest = hmac.new(key, ":".join(parts).encode(), hashlib.sha256).digest()
    return isinstance(given, str) and hmac.compare_digest(base64.b64encode(digest).decode(), given)


def adyen_signature_valid(body: bytes) -> bool:
    try:
        payload = json.loads(body)
        wrappers = payload["notificationItems"]
        items = [w["NotificationRequestItem"] for w in wrappers]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(items) and all(adyen_item_valid(item) for item in items)


def header(headers: Mapping[str, str], name: str) -> str | None:
    return headers.get(name) or headers.get(name.lower())


Oracle = Callable[[bytes, Mapping[str, str]], bool]
