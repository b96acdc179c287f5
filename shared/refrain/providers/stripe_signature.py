"""Stripe webhook verification with the `stripe` library.

`stripe.WebhookSignature.verify_header` checks the v1 HMAC and that the
timestamp is not older than the tolerance; it does not refuse timestamps from
the future, so we do that too (a captured request replayed later must not be
pre-dated into validity). Several secrets are accepted during rotation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import stripe

from refrain.ingest.rejections import BadSignature, Malformed, StaleTimestamp

DEFAULT_TOLERANCE_S = 300


def _timestamp(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                break
    raise BadSignature("Stripe-Signature has no valid timestamp")


def verify_stripe(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: Callable[[], float] = time.time,
) -> None:
    """Raise BadSignature or StaleTimestamp unless one secret signed this body recently."""
    if not header:
        raise BadSignature("missing Stripe-Signature header")
    if not secrets:
        raise BadSignature("no Stripe webhook secret configured")
    timestamp = _timestamp(header)
    age = now() - timestamp
    if age > tolerance_s:
        raise StaleTimestamp(f"Stripe-Signature timestamp is {int(age)} s old")
    if -age > tolerance_s:
        raise StaleTimestamp(f"Stripe-Signature timestamp is {int(-age)} s in the future")
    try:
        payload = body.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        # Stripe signs UTF-8 JSON; anything else is refused, never a 500 (found by fuzzing).
        raise Malformed("body is not UTF-8") from exc
    for secret in secrets:
        try:
            # The age was checked above against our clock; the library checks the HMAC.
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=None)
        except stripe.SignatureVerificationError:
            continue
        return
    raise BadSignature("no Stripe-Signature v1 entry matches a configured secret")
