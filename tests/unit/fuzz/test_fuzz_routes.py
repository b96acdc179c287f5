"""Fuzzing every webhook route: hostile input never gets a 5xx, and never writes.

Per route, REFRAIN_FUZZ_EXAMPLES examples (10,000 under CI=true) of arbitrary bytes,
JSON-like documents in the provider's vocabulary, mutated *signed* requests (bytes
flipped, fields dropped, amounts changed after signing, headers removed or garbled,
content types swapped), oversized bodies and wrong methods/paths. Properties:

* ``handle`` never raises (functions-framework would answer 500) and never answers 5xx:
  the in-memory ports cannot fail, so a 503 would be a bug turned into a retry loop;
* every answer is one of the documented statuses, and the gate answers exactly
  (404 route, 405 method, 415 media type, 413 size, 400 empty) before anything else;
* nothing is written (audit, ledger, publish, purchases API) unless an independent
  re-implementation of the provider's signature scheme says the request is signed;
  unsigned requests are answered 400 or 401.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refrain_tools.simulator.apple import apple_notification, apple_renewal, apple_transaction
from refrain_tools.simulator.google_play import google_signer
from tests.support import FIXTURES, adyen_auth
from tests.unit.fuzz.harness import (
    DOCUMENTED,
    FUZZ_MAX_BODY,
    NOW,
    Harness,
    Oracle,
    adyen_signature_valid,
    build_harness,
    fuzz_examples,
    header,
    stripe_sign,
    stripe_signature_valid,
)
from tests.unit.fuzz.strategies import Request, Seed, requests
from tests.unit.providers.support import APPLE_FIXTURES, PLAY_FIXTURES, days

EXAMPLES = fuzz_examples()
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
JSON = {"Content-Type": "application/json"}


@cache
def harness() -> Harness:
    """One service for all examples: the ports are emptied before each one."""
    return build_harness()


def never(body: bytes, headers: Mapping[str, str]) -> bool:
    """App stores: the harness trusts a root and a key that signed nothing."""
    return False


def gate(request: Request, path: str, media: tuple[str, ...]) -> int | None:
    """The documented refusals that come before verification, in their order."""
    if request.path != path:
        return 404
    if request.method != "POST":
        return 405
    content_type = header(request.headers, "Content-Type") or ""
    if content_type.split(";")[0].strip().lower() not in media:
        return 415
    declared = header(request.headers, "Content-Length")
    if declared and declared.isdigit() and int(declared) > FUZZ_MAX_BODY:
        return 413
    if request.body is None or len(request.body) > FUZZ_MAX_BODY:
        return 413
    if not request.body:
        return 400
    return None


def check(request: Request, path: str, signed: Oracle) -> None:
    h = harness()
    h.reset()
    try:
        answer = h.service.handle(request.method, request.path, request.headers, request.body)
    except Exception as exc:
        pytest.fail(f"handle raised {type(exc).__name__}: {exc} for {request!r:.600}")
    assert answer.status in DOCUMENTED, answer
    assert answer.status < 500, (answer, request)
    expected = gate(request, path, h.service.routes[path].media_types)
    if expected is not None:
        assert answer.status == expected, (answer, request)
        assert h.writes() == 0
        return
    assert request.body is not None
    if not signed(request.body, request.headers):
        assert answer.status in (400, 401), (answer, request)
        assert h.writes() == 0, (answer, request)


# -- seeds: requests exactly as the provider signed them ---------------------------------------


def _stripe_seed(name: str) -> Seed:
    """Signed at draw time, so the timestamp is always inside the tolerance."""
    event = json.loads((FIXTURES / "stripe" / "events" / name).read_text())
    body = json.dumps(event).encode()
    return body, {**JSON, "Stripe-Signature": stripe_sign(body)}


STRIPE_EVENTS = sorted(p.name for p in (FIXTURES / "stripe" / "events").glob("*.json"))
ADYEN_SIGNED = sorted((FIXTURES / "adyen" / "signed").glob("*.json"))


def _adyen_seeds() -> list[Seed]:
    return [(p.read_bytes(), {**JSON, **adyen_auth()}) for p in ADYEN_SIGNED]


def _first_item(body: bytes) -> tuple[Any, Any] | None:
    """The parsed request and its first item, or None when an earlier edit broke the shape."""
    try:
        doc = json.loads(body)
        item = doc["notificationItems"][0]["NotificationRequestItem"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return (doc, item) if isinstance(item, dict) else None


def smuggle(body: bytes) -> bytes:
    """A tampered item carrying the genuine signed request inside it (an HMAC bypass try)."""
    found = _first_item(body)
    if found is None:
        return body
    doc, item = found
    genuine = copy.deepcopy(doc["notificationItems"])
    item["amount"] = {"value": 1, "currency": "EUR"}
    item["pspReference"] = "forged"
    item["notificationItems"] = genuine
    return json.dumps(doc).encode()


def empty_nested(body: bytes) -> bytes:
    found = _first_item(body)
    if found is None:
        return body
    doc, item = found
    item["notificationItems"] = []
    return json.dumps(doc).encode()


@cache
def _play_seeds() -> list[Seed]:
    token = google_signer().token()  # a well-formed token, but not from a trusted key
    return [
        (p.read_bytes(), {**JSON, "Authorization": f"Bearer {token}"})
        for p in sorted(PLAY_FIXTURES.glob("push_*.json"))
    ]


@cache
def _apple_seeds() -> list[Seed]:
    txn = apple_transaction(purchased=NOW, expires=NOW + days(30))
    ours = [
        apple_notification(
            "SUBSCRIBED", "INITIAL_BUY", signed=NOW, txn=txn, renewal=apple_renewal()
        ),
        apple_notification("TEST", signed=NOW),
    ]
    upstream = [
        {"signedPayload": (APPLE_FIXTURES / "signed_jws" / name).read_text().strip()}
        for name in (
            "testNotification",
            "transactionInfo",
            "wrongBundleId",
            "missingX5CHeaderClaim",
        )
    ]
    return [(json.dumps(body).encode(), dict(JSON)) for body in ours + upstream]


STRIPE_KEYS = ["id", "type", "created", "data", "object", "livemode", "api_version"]
ADYEN_KEYS = [
    "pspReference",
    "eventCode",
    "success",
    "amount",
    "additionalData",
    "merchantReference",
]
PLAY_KEYS = ["message", "data", "messageId", "publishTime", "attributes", "subscription"]
APPLE_KEYS = ["signedPayload", "notificationType", "data"]


@FUZZ
@given(
    requests(
        "/stripe",
        st.sampled_from(STRIPE_EVENTS).map(_stripe_seed),
        STRIPE_KEYS,
        "Stripe-Signature",
        FUZZ_MAX_BODY,
    )
)
def test_fuzz_stripe(request: Request) -> None:
    check(
        request,
        "/stripe",
        lambda body, headers: stripe_signature_valid(body, header(headers, "Stripe-Signature")),
    )


@FUZZ
@given(
    requests(
        "/adyen",
        st.sampled_from(_adyen_seeds()),
        ADYEN_KEYS,
        "Authorization",
        FUZZ_MAX_BODY,
        extra_mutations=[smuggle, empty_nested],
    )
)
def test_fuzz_adyen(request: Request) -> None:
    check(request, "/adyen", lambda body, headers: adyen_signature_valid(body))


@FUZZ
@given(
    requests(
        "/google-play",
        st.sampled_from(_play_seeds()),
        PLAY_KEYS,
        "Authorization",
        FUZZ_MAX_BODY,
    )
)
def test_fuzz_google_play(request: Request) -> None:
    check(request, "/google-play", never)


@FUZZ
@given(requests("/apple", st.sampled_from(_apple_seeds()), APPLE_KEYS, None, FUZZ_MAX_BODY))
def test_fuzz_apple(request: Request) -> None:
    check(request, "/apple", never)
