"""Who is calling, and which account they act on.

Two kinds of callers, both with ``Authorization: Bearer <JWT>``:

* **Subscribers**: a Firebase Authentication (Identity Platform) ID token, verified
  with google-auth (``google.oauth2.id_token.verify_token`` against Google's
  securetoken certificates: RS256 signature, ``exp``/``iat`` with 10 s skew, ``aud`` =
  the Firebase project) and then ``iss`` = ``https://securetoken.google.com/<project>``
  and a non-empty ``sub`` of at most 128 characters. **The account id is the Firebase
  uid** (``sub``): checkout puts the signed-in user's uid into the subscription's
  ``account_id``, so the entitlement read needs no mapping document (a second read on
  the hot path) and no account can be reached through another's token.
* **Services** (the product's back end, customer-service tools): a Google-signed OIDC
  token for ``REFRAIN_ACCOUNT_SERVICE_AUDIENCE`` from one of
  ``REFRAIN_ACCOUNT_SERVICE_ACCOUNTS``, checked exactly like the Google Play push
  (refrain.providers.google_play_push_auth), naming the account it acts for in
  ``X-Refrain-Account``. The header selects the mode, so a subscriber's token can never
  be taken for a service's, nor the reverse. No service account configured: refused.

The local stack's Firebase Auth emulator issues **unsigned** tokens (``alg: none``):
nothing can verify them. :class:`EmulatorTokens` accepts them (with every claim check
but the signature) and only :func:`build_verifier` creates it, only when
``FIREBASE_AUTH_EMULATOR_HOST`` is set *and* the environment is local
(refrain.config_contract.is_local); in the cloud the variable itself stops the
function at start (``LOCAL_ONLY``). A signed token is always verified for real, and
the production verifier refuses unsigned tokens (google-auth knows no ``none``).

A refusal is :class:`Unauthenticated` (401, one public message) or
:class:`VerifierDown` (503: Google's certificates cannot be fetched right now).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from refrain.account.settings import AccountSettings
from refrain.ingest.rejections import Rejection
from refrain.providers.google_play_push_auth import (
    MAX_TOKEN_CHARS,
    PushAuthenticator,
    VerifierUnavailable,
    default_request,
)

ACCOUNT_HEADER = "X-Refrain-Account"
MAX_UID_CHARS = 128  # Firebase's own bound on a uid
CLOCK_SKEW_S = 10


class Unauthenticated(Exception):
    """No credentials, or credentials that do not hold; ``why`` is for the log only."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class VerifierDown(Exception):
    """The signing certificates could not be fetched: the caller should retry."""


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    kind: Literal["user", "service"]


Verify = Callable[[str], Mapping[str, Any]]


def _segment(text: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header, claims and signature segment of a compact JWT, read without any check."""
    parts = token.split(".")
    if len(token) > MAX_TOKEN_CHARS or len(parts) != 3:
        raise Unauthenticated("not a JWT")
    try:
        header, claims = _segment(parts[0]), _segment(parts[1])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthenticated("not a JWT") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise Unauthenticated("not a JWT")
    return header, claims, parts[2]


def firebase_uid(claims: Mapping[str, Any], project_id: str, now: float) -> str:
    """The checks every Firebase ID token must pass beyond its signature; the uid."""
    if claims.get("iss") != f"https://securetoken.google.com/{project_id}":
        raise Unauthenticated("wrong issuer")
    if claims.get("aud") != project_id:
        raise Unauthenticated("wrong audience")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise Unauthenticated("no exp/iat")
    if now > exp + CLOCK_SKEW_S:
        raise Unauthenticated("expired")
    if iat > now + CLOCK_SKEW_S:
        raise Unauthenticated("issued in the future")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= MAX_UID_CHARS:
        raise Unauthenticated("no usable sub")
    return sub


@dataclass
class FirebaseTokens:
    """Production: signature and claims through google-auth, then the Firebase checks."""

    project_id: str
    certs_url: str
    request: Any = None  # a google.auth.transport.Request (cached certificates)
    clock: Callable[[], float] = time.time

    def __call__(self, token: str) -> Mapping[str, Any]:
        unverified_parts(token)  # garbage is a 401 before any certificate fetch
        from google.auth import exceptions
        from google.oauth2 import id_token

        if self.request is None:
            self.request = default_request()
        try:
            claims = id_token.verify_token(
                token, self.request, audience=self.project_id, certs_url=self.certs_url,
                clock_skew_in_seconds=CLOCK_SKEW_S,
            )  # fmt: skip
        except exceptions.TransportError as exc:
            raise VerifierDown("cannot fetch the signing certificates") from exc
        except (ValueError, exceptions.GoogleAuthError) as exc:
            raise Unauthenticated(f"token refused: {type(exc).__name__}") from exc
        firebase_uid(claims, self.project_id, self.clock())
        return dict(claims)


@dataclass
class EmulatorTokens:
    """Local stack only: the Auth emulator's unsigned tokens, every check but the signature.

    A token that claims a real algorithm is not the emulator's: it goes to ``signed``.
    """

    project_id: str
    signed: Verify
    clock: Callable[[], float] = time.time

    def __call__(self, token: str) -> Mapping[str, Any]:
        header, claims, signature = unverified_parts(token)
        if header.get("alg") != "none":
            return self.signed(token)
        if signature:
            raise Unauthenticated("an unsigned token with a signature")
        firebase_uid(claims, self.project_id, self.clock())
        return claims


@dataclass
class ServiceCallers:
    """Google OIDC tokens from the allowed service accounts (the Play push's checks)."""

    audience: str | None
    accounts: frozenset[str]
    certs_url: str
    request: Any = None
    _checkers: dict[str, PushAuthenticator] = field(default_factory=dict)

    def __call__(self, authorization: str) -> str:
        """The verified service account's e-mail."""
        if not self.audience or not self.accounts:
            raise Unauthenticated("service callers are not configured")
        _, claims, _ = unverified_parts(authorization.removeprefix("Bearer ").strip())
        email = claims.get("email")
        if not isinstance(email, str) or email not in self.accounts:
            raise Unauthenticated("not an allowed service account")
        if self.request is None:
            self.request = default_request()
        checker = self._checkers.get(email)
        if checker is None:
            checker = PushAuthenticator(self.audience, email, self.certs_url, self.request)
            self._checkers[email] = checker
        try:
            checker.verify(authorization)  # signature, aud, iss, this e-mail, verified
        except VerifierUnavailable as exc:
            raise VerifierDown(str(exc)) from exc
        except Rejection as exc:
            raise Unauthenticated(str(exc)) from exc
        return email


@dataclass
class Authenticator:
    users: Verify
    services: ServiceCallers

    def caller(self, headers: Mapping[str, str]) -> Caller:
        authorization = headers.get("authorization") or ""  # names in lower case
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            raise Unauthenticated("no bearer token")
        account = headers.get(ACCOUNT_HEADER.lower())
        if account is not None:
            self.services(authorization)
            if not 0 < len(account) <= MAX_UID_CHARS:
                raise Unauthenticated("unusable account header")
            return Caller(account, "service")
        claims = self.users(authorization[7:].strip())
        return Caller(str(claims["sub"]), "user")


class LocalTokensRefused(RuntimeError):
    """The emulator's unsigned tokens were asked for outside the local stack."""


def build_verifier(settings: AccountSettings, local: bool, request: Any = None) -> Authenticator:
    """The authenticator for this environment; unsigned tokens only with the local emulator."""
    project = settings.firebase_project_id
    if not project:
        raise ValueError("REFRAIN_FIREBASE_PROJECT_ID or GOOGLE_CLOUD_PROJECT is required")
    users: Verify = FirebaseTokens(project, settings.firebase_certs_url, request)
    if settings.auth_emulator_host:
        if not local:
            raise LocalTokensRefused(
                "FIREBASE_AUTH_EMULATOR_HOST is set outside the local stack: refused"
            )
        users = EmulatorTokens(project, signed=users)
    services = ServiceCallers(
        settings.service_audience, settings.allowed_service_accounts,
        settings.service_certs_url, request,
    )  # fmt: skip
    return Authenticator(users, services)
