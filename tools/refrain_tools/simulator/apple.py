"""The App Store's side: a throwaway Apple PKI and notifications signed with it.

Root CA → intermediate (Apple's marker OID 1.2.840.113635.100.6.2.1) → leaf
(1.2.840.113635.100.6.11.1), EC P-256, with key identifiers so OpenSSL's
strict mode (which app-store-server-library turns on) accepts the chain; JWS
are ES256 with the chain in ``x5c``, exactly what the App Store sends. The
receiver trusts the root through ``APPLE_ROOT_CERTS`` (a DER file).

The payloads carry only fields of Apple's App Store Server API reference
(JWSTransactionDecodedPayload, JWSRenewalInfoDecodedPayload,
ResponseBodyV2DecodedPayload). Used by the demo and by the tests.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jwt as pyjwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from refrain.domain.money import Money

BUNDLE_ID = "com.refrain.app"
APP_APPLE_ID = 1234
LEAF_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.11.1")
INTERMEDIATE_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.2.1")
NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2045, 1, 1, tzinfo=UTC)


def common_name(common: str) -> x509.Name:
    """An X.509 name with only a common name (test certificates need no more)."""
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
        .subject_name(common_name(subject))
        .issuer_name(common_name(issuer))
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


def _ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class ApplePKI:
    """A throwaway root + intermediate + leaf, and a JWS signer using the leaf."""

    root_key: ec.EllipticCurvePrivateKey = field(default_factory=_ec_key)
    inter_key: ec.EllipticCurvePrivateKey = field(default_factory=_ec_key)
    leaf_key: ec.EllipticCurvePrivateKey = field(default_factory=_ec_key)

    def __post_init__(self) -> None:
        root, inter = "Test Root", "Test Intermediate"
        self.root = _cert(root, self.root_key, root, self.root_key, ca=True, marker=None)
        self.intermediate = _cert(
            inter, self.inter_key, root, self.root_key, ca=True, marker=INTERMEDIATE_OID
        )
        self.leaf = _cert(
            "Test Leaf", self.leaf_key, inter, self.inter_key, ca=False, marker=LEAF_OID
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


def store_price(money: Money) -> dict[str, Any]:
    """``price`` (milli-units of the currency) and ``currency``, as a transaction states them."""
    return {"price": int(money.to_decimal() * 1000), "currency": money.currency}


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
    original_purchase: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A JWSTransactionDecodedPayload of an auto-renewable subscription."""
    txn: dict[str, Any] = {
        "transactionId": f"{original}-{ms(purchased)}",
        "originalTransactionId": original,
        "bundleId": bundle_id,
        "productId": product,
        "purchaseDate": ms(purchased),
        "originalPurchaseDate": ms(original_purchase or purchased),
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
    product: str = "individual_monthly",
    signed: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A JWSRenewalInfoDecodedPayload (``signedDate`` now unless given)."""
    renewal: dict[str, Any] = {
        "originalTransactionId": original,
        "autoRenewProductId": product,
        "productId": product,
        "autoRenewStatus": 1 if auto_renew else 0,
        "signedDate": ms(signed or datetime.now(UTC)),
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
    status: int = 1,
) -> dict[str, Any]:
    """A request body as Apple posts it: {"signedPayload": JWS} with nested JWS.

    ``status``: the subscription's status in ``data`` (1 active, 2 expired, 3 billing
    retry, 4 grace period, 5 revoked).
    """
    pki = pki or apple_pki()
    data: dict[str, Any] = {
        "bundleId": bundle_id,
        "appAppleId": app_apple_id,
        "environment": environment,
        "status": status,
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
