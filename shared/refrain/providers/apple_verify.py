"""Verify App Store Server Notifications V2 with Apple's app-store-server-library.

The request body is ``{"signedPayload": "<JWS>"}``. ``SignedDataVerifier``
checks the ES256 signature against the ``x5c`` chain, the chain against the
configured Apple root certificates (and Apple's marker OIDs on leaf and
intermediate), then the bundle id, app Apple id (Production) and
environment. The nested ``signedTransactionInfo`` and ``signedRenewalInfo``
are verified the same way. With online checks off (local, tests) the chain is
judged at the JWS ``signedDate``; in the cloud leave them on (OCSP).

Only Production and Sandbox are accepted: for Xcode and LocalTesting data the
library skips the signature check, so a server must never trust them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from refrain.ingest.rejections import BadSignature, Malformed, Rejection
from refrain.ingest.request import json_body

TRUSTED_ENVIRONMENTS = ("Production", "Sandbox")


class AppleUnavailable(Rejection):
    """The OCSP check could not be completed: Apple retries the notification."""

    status = 503
    reason = "temporarily_unavailable"


def signed_payload_of(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("signedPayload"), str):
        raise Malformed("body has no signedPayload")
    token: str = body["signedPayload"]
    if token.count(".") != 2:
        raise Malformed("signedPayload is not a compact JWS")
    return token


def decode_jws_payload(token: str) -> dict[str, Any]:
    """A compact JWS's payload, *without* verification (for replaying stored requests)."""
    try:
        segment = token.split(".")[1]
        data = json_body(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, binascii.Error, ValueError, Malformed) as exc:
        raise Malformed(f"JWS payload unreadable: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise Malformed("JWS payload is not an object")
    return data


def decode_unverified(body: Any) -> dict[str, Any]:
    """The notification, transaction and renewal info of a stored (verified) request."""
    notification = decode_jws_payload(signed_payload_of(body))
    data = notification.get("data") or {}
    return {
        "notification": notification,
        "transaction": _nested(data.get("signedTransactionInfo")),
        "renewal": _nested(data.get("signedRenewalInfo")),
    }


def _nested(token: Any) -> dict[str, Any] | None:
    return decode_jws_payload(token) if isinstance(token, str) and token else None


@dataclass
class AppleVerifier:
    root_certificates: Sequence[bytes]
    bundle_id: str | None
    environment: str = "Production"
    app_apple_id: int | None = None
    online_checks: bool = True
    # Apple's published test certificates lack authority key identifiers, so its own
    # tests turn OpenSSL's strict mode off for them; never turn it off elsewhere.
    strict_chain: bool = True
    _verifier: Any = field(default=None, repr=False)

    def _library(self) -> Any:
        if self._verifier is None:
            from appstoreserverlibrary.models.Environment import Environment
            from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier

            if not self.root_certificates or not self.bundle_id:
                raise BadSignature("Apple notifications are not configured")
            if self.environment not in TRUSTED_ENVIRONMENTS:
                raise BadSignature(f"environment {self.environment!r} is never trusted")
            if self.environment == "Production" and self.app_apple_id is None:
                raise BadSignature("Production needs APPLE_APP_APPLE_ID")
            self._verifier = SignedDataVerifier(
                list(self.root_certificates),
                self.online_checks,
                Environment(self.environment),
                self.bundle_id,
                self.app_apple_id,
            )
            if not self.strict_chain:
                self._verifier._chain_verifier.enable_strict_checks = False
        return self._verifier

    def verify(self, body: Any) -> dict[str, Any]:
        """Verify everything signed in the body; return the decoded dicts."""
        from appstoreserverlibrary.signed_data_verifier import (
            VerificationException,
            VerificationStatus,
        )

        token = signed_payload_of(body)
        verifier = self._library()
        try:
            verifier.verify_and_decode_notification(token)
            decoded = decode_unverified(body)  # the bytes just verified, as plain dicts
            data = decoded["notification"].get("data") or {}
            if decoded["transaction"] is not None:
                verifier.verify_and_decode_signed_transaction(data["signedTransactionInfo"])
            if decoded["renewal"] is not None:
                verifier.verify_and_decode_renewal_info(data["signedRenewalInfo"])
        except VerificationException as exc:
            if exc.status is VerificationStatus.RETRYABLE_VERIFICATION_FAILURE:
                raise AppleUnavailable("Apple OCSP check unavailable") from exc
            raise BadSignature(f"Apple signature refused: {exc.status.name}") from exc
        return decoded
