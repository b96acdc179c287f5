"""The public door under attack: no input answers 5xx, none writes a document.

Every route (/stripe, /adyen, /google-play, /apple) of the real webhook function on
the emulators, with the classes of input that once broke it (docs/SECURITY.md):
nesting a thousand levels deep, integers of thousands of digits, bytes that are not
UTF-8, signature headers outside the provider's grammar (non-ASCII, repeated or joined
timestamps), bearer tokens nesting JSON or far too long, Play times beyond any
calendar, oversized headers, and bodies over the limit sent chunked. Some are signed
with our own keys (what only a key holder could send must be refused too). Then
hypothesis throws arbitrary bodies and headers at every route. Each test fails on a
hang through pytest-timeout; times are measured in bench/, not asserted here.
"""

from __future__ import annotations

import base64
import io
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refrain_tools.simulator.google_play import (
    google_signer,
    play_envelope,
    play_notification,
)
from tests.integration.ingest.conftest import STRIPE_SECRET
from tests.integration.providers.conftest import Stores
from tests.support import adyen_auth, stripe_header

ROUTES = ("/stripe", "/adyen", "/google-play", "/apple")
DEEP = b"[" * 1000 + b"]" * 1000
LONG_INT = b'{"id": ' + b"9" * 5000 + b"}"
NOT_UTF8 = b'{"id": "\xff\xfe"}'
LIMIT = 1024 * 1024
AT = datetime(2026, 1, 1, tzinfo=UTC)


def _post(door: Stores, path: str, body: bytes, **headers: str) -> int:
    sent = {"Content-Type": "application/json", **headers}
    return int(door.client.post(path, data=body, headers=sent).status_code)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _credentials(path: str) -> dict[str, str]:
    """What the provider itself would send: basic auth for Adyen, a Google token for Play."""
    if path == "/adyen":
        return adyen_auth()
    return {"Authorization": f"Bearer {google_signer().token()}"}


def _refused(door: Stores, statuses: dict[str, int]) -> None:
    server_errors = {case: s for case, s in statuses.items() if not 400 <= s < 500}
    assert server_errors == {}
    assert door.documents() == []


@pytest.mark.timeout(120)
def test_parser_breakers_are_4xx_on_every_route(door: Stores) -> None:
    statuses = {}
    for path in ROUTES:
        for name, body in (("deep", DEEP), ("long int", LONG_INT), ("not utf-8", NOT_UTF8)):
            statuses[f"{path} {name}"] = _post(door, path, body)
            statuses[f"{path} {name} authenticated"] = _post(door, path, body, **_credentials(path))
    _refused(door, statuses)


@pytest.mark.timeout(60)
def test_what_only_a_key_holder_could_sign_is_refused_too(door: Stores) -> None:
    statuses = {}
    for name, body in (("deep", DEEP), ("long int", LONG_INT)):
        header = stripe_header(body, STRIPE_SECRET, int(time.time()))
        statuses[f"stripe signed {name}"] = _post(door, "/stripe", body, **{
            "Stripe-Signature": header
        })  # fmt: skip
    token = {"Authorization": f"Bearer {google_signer().token()}"}
    far = play_notification(4, "tok", at=AT)
    far["eventTimeMillis"] = str(10**20)
    envelope = json.dumps(play_envelope(far, "m-far")).encode()
    statuses["play time beyond any calendar"] = _post(door, "/google-play", envelope, **token)
    _refused(door, statuses)


@pytest.mark.timeout(60)
def test_signature_headers_outside_the_grammar_are_refused(door: Stores) -> None:
    body = b'{"id": "evt_hostile", "object": "event"}'
    now = int(time.time())
    good = stripe_header(body, STRIPE_SECRET, now - 3600)  # captured an hour ago
    v1 = good.split(",", 1)[1]
    statuses = {
        "non-ascii v1": _post(door, "/stripe", body, **{"Stripe-Signature": f"t={now},v1=é"}),
        "fresh t in front": _post(door, "/stripe", body, **{"Stripe-Signature": f"t={now},{good}"}),
        "joined second line": _post(
            door, "/stripe", body, **{"Stripe-Signature": f"t={now}, {good}"}
        ),
        "old v1 under new t": _post(door, "/stripe", body, **{"Stripe-Signature": f"t={now},{v1}"}),
        "huge header": _post(door, "/stripe", body, **{"Stripe-Signature": "t=1," + "v1=a" * 9000}),
    }
    _refused(door, statuses)


@pytest.mark.timeout(60)
def test_hostile_bearer_tokens_are_refused(door: Stores) -> None:
    envelope = json.dumps(play_envelope(play_notification(4, "tok", at=AT), "m")).encode()
    deep_header = _b64url(b'{"a":' * 500 + b"1" + b"}" * 500)
    tokens = {
        "nested header": f"{deep_header}.{_b64url(b'{}')}.{_b64url(b'sig')}",
        "long int payload": f"{_b64url(b'{}')}.{_b64url(LONG_INT)}.{_b64url(b'sig')}",
        "far too long": "a" * 100_000,
        "not utf-8": f"{_b64url(NOT_UTF8)}.{_b64url(NOT_UTF8)}.x",
    }
    statuses = {
        name: _post(door, "/google-play", envelope, Authorization=f"Bearer {token}")
        for name, token in tokens.items()
    }
    _refused(door, statuses)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", ROUTES)
def test_a_chunked_body_over_the_limit_is_refused_having_read_only_the_limit(
    door: Stores, path: str
) -> None:
    """No Content-Length: the function reads at most the limit plus one chunk's worth."""

    class Counting(io.BytesIO):
        read_total = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            Counting.read_total += len(chunk)
            return chunk

    stream = Counting(b"[" + b'"x",' * (8 * LIMIT) + b"1]")  # 32 MiB
    answer = door.client.post(
        path,
        input_stream=stream,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True},  # what gunicorn sets for chunked input
    )
    assert answer.status_code == 413
    assert Counting.read_total <= LIMIT + 64 * 1024  # read: 1 MiB + 1 byte, in 64 KiB reads
    print(f"{path}: read {Counting.read_total} of {len(stream.getvalue())} bytes")
    assert door.documents() == []


HEADER_VALUE = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_characters="\x7f"),
    max_size=200,
)


@pytest.mark.timeout(600)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(ROUTES),
    body=st.one_of(
        st.binary(max_size=2048),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
            max_leaves=30,
        ).map(lambda value: json.dumps(value).encode()),
    ),
    signature=HEADER_VALUE,
    authorization=HEADER_VALUE,
)
def test_arbitrary_requests_never_answer_5xx_or_write(
    door: Stores, path: str, body: bytes, signature: str, authorization: str
) -> None:
    status = _post(
        door, path, body, **{"Stripe-Signature": signature, "Authorization": authorization}
    )
    assert 400 <= status < 500, (path, body[:80], status)
    assert door.documents() == []


def test_the_routes_are_the_door_s_routes() -> None:
    """The suite covers every public route the webhook serves (a new one joins here)."""
    from refrain.ingest.routes import WebhookSettings, card_routes
    from refrain.ingest.store_routes import StoreSettings, store_routes

    routes = {**card_routes(WebhookSettings()), **store_routes(StoreSettings(), _NoPlay())}
    assert set(routes) == set(ROUTES)


class _NoPlay:
    def get_subscription(self, package_name: str, purchase_token: str) -> dict[str, Any]:
        raise AssertionError("never called")
