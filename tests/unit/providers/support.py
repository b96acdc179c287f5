"""Test credentials for the app stores: a throwaway Apple PKI and a Google token signer.

Apple: root CA → intermediate (Apple's marker OID 1.2.840.113635.100.6.2.1) →
leaf (1.2.840.113635.100.6.11.1), EC P-256, with key identifiers so OpenSSL's
strict mode (which the library turns on) accepts the chain; JWS are ES256
with the chain in ``x5c``, exactly what the App Store sends.

Google: an RSA key and a self-signed certificate served like
https://www.googleapis.com/oauth2/v1/certs ({kid: PEM}); ID tokens are
signed with google.auth's own RSASigner and jwt.encode.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jwt as pyjwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.support import FIXTURES

APPLE_FIXTURES = FIXTURES / "apple"
PLAY_FIXTURES = FIXTURES / "google_play"
BUNDLE_ID = "com.refrain.app"
APP_APPLE_ID = 1234
PACKAGE = "com.example.app"
AUDIENCE = "https://refrain.example/google-play"
PUSH_ACCOUNT = "play-push@refrain-local.iam.gserviceaccount.com"
LEAF_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.11.1")
INTERMEDIATE_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.2.1")
NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2045, 1, 1, tzinfo=UTC)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    marker: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    if marker is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(marker, b"\x05\x00"), False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class ApplePKI:
    """A throwaway root + intermediate + leaf, and a JWS signer using the leaf."""

    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    inter_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    leaf_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        self.root = _cert(
            "Test Root", self.root_key, "Test Root", self.root_key, ca=True, marker=None
        )
        self.intermediate = _cert(
            "Test Intermediate",
            self.inter_key,
            "Test Root",
            self.root_key,
            ca=True,
            marker=INTERMEDIATE_OID,
        )
        self.leaf = _cert(
            "Test Leaf",
            self.leaf_key,
            "Test Intermediate",
            self.inter_key,
            ca=False,
            marker=LEAF_OID,
        )

    @property
    def root_der(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.DER)

    def write_root(self, directory: Path) -> Path:
        path = directory / "test-root.der"
        path.write_bytes(self.root_der)
        return path

    def x5c(self) -> list[str]:
        return [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
            for c in (self.leaf, self.intermediate, self.root)
        ]

    def sign(self, payload: dict[str, Any], *, x5c: bool = True) -> str:
        headers: dict[str, Any] = {"x5c": self.x5c()} if x5c else {}
        return pyjwt.encode(payload, self.leaf_key, algorithm="ES256", headers=headers)


@cache
def apple_pki() -> ApplePKI:
    return ApplePKI()


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def apple_transaction(
    original: str = "2000000111",
    *,
    product: str = "individual_monthly",
    purchased: datetime,
    expires: datetime,
    storefront: str = "SWE",
    account: str | None = "7e3fb20b-4cdb-47cc-936d-99d65f608138",
    environment: str = "Sandbox",
    bundle_id: str = BUNDLE_ID,
    **extra: Any,
) -> dict[str, Any]:
    txn: dict[str, Any] = {
        "transactionId": f"{original}-{ms(purchased)}",
        "originalTransactionId": original,
        "bundleId": bundle_id,
        "productId": product,
        "purchaseDate": ms(purchased),
        "originalPurchaseDate": ms(purchased),
        "expiresDate": ms(expires),
        "quantity": 1,
        "type": "Auto-Renewable Subscription",
        "inAppOwnershipType": "PURCHASED",
        "signedDate": ms(purchased),
        "environment": environment,
        "transactionReason": "PURCHASE",
        "storefront": storefront,
        "storefrontId": "143456",
        "price": 119000,
        "currency": "SEK",
    }
    if account:
        txn["appAccountToken"] = account
    txn.update(extra)
    return txn


def apple_renewal(
    original: str = "2000000111",
    *,
    auto_renew: bool = True,
    environment: str = "Sandbox",
    **extra: Any,
) -> dict[str, Any]:
    renewal: dict[str, Any] = {
        "originalTransactionId": original,
        "autoRenewProductId": "individual_monthly",
        "productId": "individual_monthly",
        "autoRenewStatus": 1 if auto_renew else 0,
        "signedDate": ms(datetime.now(UTC)),
        "environment": environment,
    }
    renewal.update(extra)
    return renewal


def apple_notification(
    type_: str,
    subtype: str | None = None,
    *,
    signed: datetime,
    txn: dict[str, Any] | None = None,
    renewal: dict[str, Any] | None = None,
    notification_uuid: str | None = None,
    bundle_id: str = BUNDLE_ID,
    environment: str = "Sandbox",
    app_apple_id: int = APP_APPLE_ID,
    pki: ApplePKI | None = None,
) -> dict[str, Any]:
    """A request body as Apple posts it: {"signedPayload": JWS} with nested JWS."""
    pki = pki or apple_pki()
    data: dict[str, Any] = {
        "bundleId": bundle_id,
        "appAppleId": app_apple_id,
        "environment": environment,
        "status": 1,
    }
    if txn is not None:
        data["signedTransactionInfo"] = pki.sign(txn)
    if renewal is not None:
        data["signedRenewalInfo"] = pki.sign(renewal)
    payload: dict[str, Any] = {
        "notificationType": type_,
        "notificationUUID": notification_uuid or str(uuid.uuid4()),
        "data": data,
        "version": "2.0",
        "signedDate": ms(signed),
    }
    if subtype:
        payload["subtype"] = subtype
    return {"signedPayload": pki.sign(payload)}


# Google ----------------------------------------------------------------------


@dataclass
class GoogleSigner:
    """An RSA key with a self-signed certificate, published as Google publishes its certs."""

    kid: str = "refrain-test-key"
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def certs(self) -> dict[str, str]:
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("accounts.google.test"))
            .issuer_name(_name("accounts.google.test"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOT_BEFORE)
            .not_valid_after(NOT_AFTER)
            .sign(self.key, hashes.SHA256())
        )
        return {self.kid: cert.public_bytes(serialization.Encoding.PEM).decode()}

    def token(self, **overrides: Any) -> str:
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


def play_envelope(notification: dict[str, Any], message_id: str) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(notification).encode()).decode()
    return {
        "message": {
            "attributes": {},
            "data": data,
            "messageId": message_id,
            "publishTime": "2024-07-25T23:26:40.000Z",
        },
        "subscription": "projects/refrain-local/subscriptions/play-rtdn",
    }


def play_fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PLAY_FIXTURES / name).read_text())
    return loaded


def play_purchase(
    state: str = "SUBSCRIPTION_STATE_ACTIVE",
    *,
    expiry: datetime | None = None,
    product: str = "premium_monthly",
    region: str = "SE",
    account: str | None = "acct_play_1",
    auto_renew: bool = True,
    order: str = "GPA.3345-1234-5678-90123",
    **extra: Any,
) -> dict[str, Any]:
    """A SubscriptionPurchaseV2 as purchases.subscriptionsv2.get answers it."""
    expiry = expiry or datetime(2024, 8, 25, 23, 26, 40, 123000, tzinfo=UTC)
    body: dict[str, Any] = {
        "kind": "androidpublisher#subscriptionPurchaseV2",
        "regionCode": region,
        "startTime": "2024-07-25T23:26:40.123Z",
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


def days(n: float) -> timedelta:
    return timedelta(days=n)
