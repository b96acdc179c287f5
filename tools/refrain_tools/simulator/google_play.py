"""Google Play's side: push tokens, RTDN envelopes and SubscriptionPurchaseV2 bodies.

A Pub/Sub push carries a Google-signed OIDC ID token for the push
subscription's service account; :class:`GoogleSigner` is an RSA key with a
self-signed certificate, published the way
https://www.googleapis.com/oauth2/v1/certs publishes Google's ({kid: PEM}),
and signs ID tokens with google.auth's own RSASigner and jwt.encode.

The payloads carry only fields of Google's references (the RTDN
DeveloperNotification, the Pub/Sub push body, SubscriptionPurchaseV2). The
local certificate and Android Publisher endpoints are
:mod:`refrain_tools.simulator.google_server`. Used by the demo and the tests.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from refrain_tools.simulator.apple import NOT_AFTER, NOT_BEFORE, common_name

PACKAGE = "com.example.app"
AUDIENCE = "https://refrain.example/google-play"
PUSH_ACCOUNT = "play-push@refrain-local.iam.gserviceaccount.com"
PUSH_SUBSCRIPTION = "projects/refrain-local/subscriptions/play-rtdn"


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class GoogleSigner:
    """An RSA key with a self-signed certificate, published as Google publishes its certs."""

    kid: str = "refrain-test-key"
    key: rsa.RSAPrivateKey = field(default_factory=_rsa_key)

    def certs(self) -> dict[str, str]:
        cert = (
            x509.CertificateBuilder()
            .subject_name(common_name("accounts.google.test"))
            .issuer_name(common_name("accounts.google.test"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOT_BEFORE)
            .not_valid_after(NOT_AFTER)
            .sign(self.key, hashes.SHA256())
        )
        return {self.kid: cert.public_bytes(serialization.Encoding.PEM).decode()}

    def token(self, **overrides: Any) -> str:
        """A push ID token valid for an hour from now (real time, as Google mints them)."""
        from google.auth import crypt
        from google.auth import jwt as gjwt

        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "email": PUSH_ACCOUNT,
            "email_verified": True,
            "sub": "1234567890",
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        signer = crypt.RSASigner.from_string(pem, key_id=self.kid)
        return str(gjwt.encode(signer, claims).decode())


@cache
def google_signer() -> GoogleSigner:
    return GoogleSigner()


def rfc3339(at: datetime) -> str:
    """Google's Timestamp JSON with milliseconds ("2024-07-25T23:26:40.123Z")."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def play_envelope(
    notification: dict[str, Any], message_id: str, published: datetime | None = None
) -> dict[str, Any]:
    """The Pub/Sub push body that carries one DeveloperNotification."""
    data = base64.b64encode(json.dumps(notification).encode()).decode()
    publish_time = rfc3339(published) if published else "2024-07-25T23:26:40.000Z"
    return {
        "message": {
            "attributes": {},
            "data": data,
            "messageId": message_id,
            "publishTime": publish_time,
        },
        "subscription": PUSH_SUBSCRIPTION,
    }


def play_notification(
    notification_type: int, purchase_token: str, at: datetime, package: str = PACKAGE
) -> dict[str, Any]:
    """A DeveloperNotification with a subscriptionNotification (eventTimeMillis a string)."""
    return {
        "version": "1.0",
        "packageName": package,
        "eventTimeMillis": str(int(at.timestamp() * 1000)),
        "subscriptionNotification": {
            "version": "1.0",
            "notificationType": notification_type,
            "purchaseToken": purchase_token,
        },
    }


def play_purchase(
    state: str = "SUBSCRIPTION_STATE_ACTIVE",
    *,
    expiry: datetime | None = None,
    product: str = "premium_monthly",
    region: str = "SE",
    account: str | None = "acct_play_1",
    auto_renew: bool = True,
    order: str = "GPA.3345-1234-5678-90123",
    started: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A SubscriptionPurchaseV2 as purchases.subscriptionsv2.get answers it."""
    expiry = expiry or datetime(2024, 8, 25, 23, 26, 40, 123000, tzinfo=UTC)
    body: dict[str, Any] = {
        "kind": "androidpublisher#subscriptionPurchaseV2",
        "regionCode": region,
        "startTime": rfc3339(started) if started else "2024-07-25T23:26:40.123Z",
        "subscriptionState": state,
        "latestOrderId": order,
        "acknowledgementState": "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED",
        "lineItems": [
            {
                "productId": product,
                "expiryTime": expiry.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
                "autoRenewingPlan": {"autoRenewEnabled": auto_renew},
                "offerDetails": {"basePlanId": "p1m", "offerTags": []},
            }
        ],
    }
    if account:
        body["externalAccountIdentifiers"] = {"obfuscatedExternalAccountId": account}
    body.update(extra)
    return body
