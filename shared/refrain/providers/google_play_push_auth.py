"""Authenticate a Pub/Sub push with its OIDC token, using google-auth.

Pub/Sub signs a Google ID token for the push subscription's service account
and sends it as ``Authorization: Bearer <jwt>``. We verify it with
``google.oauth2.id_token.verify_token`` against Google's signing
certificates (``certs_url``, cached a few minutes), then require:

* ``aud`` equal to the configured audience (the push endpoint's audience),
* ``iss`` Google's accounts issuer,
* ``email`` the configured push service account, with ``email_verified``.

Nothing is configured → every push is refused (fail closed). A token that
fails any check is a 401 and nothing is stored; a token that is not even a
JWT is refused before the certificates are fetched. A certificate endpoint we
cannot reach is a 503 for a well-formed token (it may be genuine): Pub/Sub retries.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from refrain.ingest.rejections import BadSignature, Malformed, Rejection
from refrain.ingest.request import json_body

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
MAX_TOKEN_CHARS = 4096  # Google's push ID tokens are about a thousand characters


class VerifierUnavailable(Rejection):
    """We could not check the credentials right now: the sender should retry."""

    status = 503
    reason = "temporarily_unavailable"


@dataclass
class _CachedResponse:
    status: int
    headers: Mapping[str, str]
    data: bytes


@dataclass
class CachingRequest:
    """A google.auth transport Request that keeps successful GETs for ``ttl_s``.

    Google rotates its signing keys over days; re-fetching them on every push
    would put a network round trip in front of every acknowledgement.
    """

    inner: Callable[..., Any]
    ttl_s: float = 300.0
    timeout_s: float = 5.0
    _cache: dict[str, tuple[float, _CachedResponse]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        if method != "GET":
            return self.inner(url, method=method, **kwargs)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(url)
        if hit is not None and hit[0] > now:
            return hit[1]
        kwargs.setdefault("timeout", self.timeout_s)
        response = self.inner(url, method=method, **kwargs)
        if response.status == 200:
            kept = _CachedResponse(response.status, dict(response.headers), bytes(response.data))
            with self._lock:
                self._cache[url] = (now + self.ttl_s, kept)
        return response


def default_request() -> Callable[..., Any]:
    import google.auth.transport.requests

    return CachingRequest(google.auth.transport.requests.Request())


@dataclass
class PushAuthenticator:
    """Checks the bearer token of one push request (see the module docstring)."""

    audience: str | None
    service_account: str | None
    certs_url: str = GOOGLE_CERTS_URL
    request: Any = None  # a google.auth.transport.Request
    clock_skew_s: int = 10

    def verify(self, authorization: str | None) -> Mapping[str, Any]:
        if not self.audience or not self.service_account:
            raise BadSignature("Google Play push authentication is not configured")
        if not authorization or not authorization.startswith("Bearer "):
            raise BadSignature("push has no bearer token")
        token = authorization[len("Bearer ") :].strip()
        if len(token) > MAX_TOKEN_CHARS or not _well_formed(token):
            # Refused before the certificate fetch: garbage must be a 401, never a 503
            # because Google's certificate endpoint is down (found by fuzzing).
            raise BadSignature("push token refused: not a JWT")
        from google.auth import exceptions
        from google.oauth2 import id_token

        if self.request is None:
            self.request = default_request()
        try:
            claims = id_token.verify_token(
                token,
                self.request,
                audience=self.audience,
                certs_url=self.certs_url,
                clock_skew_in_seconds=self.clock_skew_s,
            )
        except exceptions.TransportError as exc:
            raise VerifierUnavailable("cannot fetch Google's signing certificates") from exc
        except (ValueError, exceptions.GoogleAuthError) as exc:
            raise BadSignature(f"push token refused: {type(exc).__name__}") from exc
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise BadSignature("push token not issued by Google")
        email = str(claims.get("email") or "")
        if not hmac.compare_digest(email.encode(), self.service_account.encode()):
            raise BadSignature("push token is for another service account")
        if claims.get("email_verified") is not True:
            raise BadSignature("push token e-mail is not verified")
        return claims


def _segment(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _well_formed(token: str) -> bool:
    """Three base64url segments, header and payload JSON objects: worth fetching certs for."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header, payload = json_body(_segment(parts[0])), json_body(_segment(parts[1]))
        _segment(parts[2])
    except (Malformed, ValueError, binascii.Error):
        return False
    return isinstance(header, dict) and isinstance(payload, dict)
