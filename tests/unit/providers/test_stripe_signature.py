"""Stripe-Signature verification against the published vectors and the edge cases."""

from __future__ import annotations

import json

import pytest

from refrain.ingest.rejections import BadSignature, StaleTimestamp
from refrain.providers.stripe_signature import verify_stripe
from tests.support import FIXTURES, stripe_header

VECTORS = json.loads((FIXTURES / "stripe" / "signature_vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vectors_verify_at_their_own_time(vector: dict[str, object]) -> None:
    at = int(vector["timestamp"])  # type: ignore[call-overload]
    verify_stripe(
        str(vector["payload"]).encode(),
        str(vector["Stripe-Signature"]),
        [str(vector["secret"])],
        now=lambda: at + 10,
    )


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors_are_refused(vector: dict[str, object]) -> None:
    header = str(vector["Stripe-Signature"])
    timestamp = (
        int(header.split(",", maxsplit=1)[0].split("=")[1]) if header.startswith("t=") else 0
    )
    stale = "stale" in str(vector["name"])
    now = (lambda: timestamp + 10_000) if stale else (lambda: timestamp + 10)
    with pytest.raises((BadSignature, StaleTimestamp)) as err:
        verify_stripe(str(vector["payload"]).encode(), header, [str(vector["secret"])], now=now)
    if stale:
        assert isinstance(err.value, StaleTimestamp)


def test_future_timestamps_beyond_tolerance_are_refused() -> None:
    body = b'{"id": "evt_1"}'
    header = stripe_header(body, "whsec_a", 2_000_000_000)
    with pytest.raises(StaleTimestamp, match="future"):
        verify_stripe(body, header, ["whsec_a"], now=lambda: 2_000_000_000 - 301)
    verify_stripe(body, header, ["whsec_a"], now=lambda: 2_000_000_000 - 299)


def test_rotation_accepts_old_and_new_secret_only() -> None:
    body = b'{"id": "evt_rot"}'
    for secret in ("whsec_old", "whsec_new"):
        header = stripe_header(body, secret, 1_800_000_000)
        verify_stripe(body, header, ["whsec_new", "whsec_old"], now=lambda: 1_800_000_000)
    header = stripe_header(body, "whsec_other", 1_800_000_000)
    with pytest.raises(BadSignature):
        verify_stripe(body, header, ["whsec_new", "whsec_old"], now=lambda: 1_800_000_000)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=notanumber,v1=abc"])
def test_missing_or_garbled_header_is_a_bad_signature(header: str | None) -> None:
    with pytest.raises(BadSignature):
        verify_stripe(b"{}", header, ["whsec_a"], now=lambda: 0)


def test_no_configured_secret_refuses_everything() -> None:
    body = b"{}"
    with pytest.raises(BadSignature, match="no Stripe webhook secret"):
        verify_stripe(body, stripe_header(body, "x", 100), [], now=lambda: 100)
