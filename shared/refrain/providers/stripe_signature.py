"""Stripe webhook verification with the `stripe` library, on exactly Stripe's header grammar.

``Stripe-Signature`` is ``t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=<hex>]``, nothing
else: no spaces, one ``t``, signatures of 64 lower-case hex digits. A header that is
not exactly that is refused before anything reads it, so the timestamp whose age is
judged is the one the signature covers (a fresh ``t=`` put in front of a captured
header, or a second header line joined to it, is refused; see docs/SECURITY.md).
Then `stripe.WebhookSignature.verify_header` judges the HMAC and the age together, with
our tolerance; timestamps from the future are refused too (a captured request must not
be pre-dated into validity). Several secrets are accepted during rotation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import stripe

from refrain.ingest.rejections import BadSignature, Malformed, StaleTimestamp

DEFAULT_TOLERANCE_S = 300
MAX_HEADER_CHARS = 1024  # one t and a few signatures (rotation) fit many times over
_GRAMMAR = re.compile(r"t=(?P<t>[0-9]{1,12})(?:,v[0-9]=[0-9a-f]{64}){1,8}")


def signed_at(header: str) -> int:
    """The timestamp of a header in Stripe's exact grammar; BadSignature for anything else."""
    if len(header) > MAX_HEADER_CHARS:
        raise BadSignature("Stripe-Signature is too long")
    match = _GRAMMAR.fullmatch(header)
    if match is None:
        raise BadSignature("Stripe-Signature is not t=…,v1=… as Stripe writes it")
    if ",v1=" not in header:
        raise BadSignature("Stripe-Signature carries no v1 signature")
    return int(match.group("t"))


def verify_stripe(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise BadSignature or StaleTimestamp unless one secret signed this body recently."""
    if not header:
        raise BadSignature("missing Stripe-Signature header")
    if not secrets:
        raise BadSignature("no Stripe webhook secret configured")
    ahead = signed_at(header) - time.time()
    if ahead > tolerance_s:
        raise StaleTimestamp(f"Stripe-Signature timestamp is {int(ahead)} s in the future")
    try:
        payload = body.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        # Stripe signs UTF-8 JSON; anything else is refused, never a 500 (found by fuzzing).
        raise Malformed("body is not UTF-8") from exc
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=tolerance_s)
        except stripe.SignatureVerificationError as exc:
            if "tolerance" in str(exc):  # the HMAC matched; the request is too old
                raise StaleTimestamp(
                    f"Stripe-Signature timestamp is older than {tolerance_s} s"
                ) from None
            continue
        return
    raise BadSignature("no Stripe-Signature v1 entry matches a configured secret")
