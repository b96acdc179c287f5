"""Apple signedPayload verification with app-store-server-library: what passes, what is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from refrain.ingest.rejections import BadSignature, Malformed
from refrain.providers.apple_verify import AppleVerifier, decode_unverified
from refrain_tools.simulator.apple import (
    BUNDLE_ID,
    ApplePKI,
    apple_notification,
    apple_pki,
    apple_renewal,
    apple_transaction,
)
from tests.unit.providers.support import APPLE_FIXTURES, days

NOW = datetime.now(UTC)


def fixture_body(name: str) -> dict[str, Any]:
    return {"signedPayload": (APPLE_FIXTURES / "signed_jws" / name).read_text().strip()}


def fixture_verifier(**overrides: Any) -> AppleVerifier:
    """As Apple's own tests verify its test data: test CA, offline, strict mode off."""
    settings: dict[str, Any] = {
        "root_certificates": [(APPLE_FIXTURES / "certs" / "testCA.der").read_bytes()],
        "bundle_id": "com.example",
        "environment": "Sandbox",
        "app_apple_id": 1234,
        "online_checks": False,
        "strict_chain": False,
    }
    settings.update(overrides)
    return AppleVerifier(**settings)


def our_verifier(**overrides: Any) -> AppleVerifier:
    settings: dict[str, Any] = {
        "root_certificates": [apple_pki().root_der],
        "bundle_id": BUNDLE_ID,
        "environment": "Sandbox",
        "online_checks": False,
    }
    settings.update(overrides)
    return AppleVerifier(**settings)


def subscribed(**kwargs: Any) -> dict[str, Any]:
    txn = kwargs.pop("txn", apple_transaction(purchased=NOW, expires=NOW + days(30)))
    return apple_notification(
        "SUBSCRIBED", "INITIAL_BUY", signed=NOW, txn=txn, renewal=apple_renewal(), **kwargs
    )


def test_the_apple_test_ca_verifies_the_test_notification() -> None:
    decoded = fixture_verifier().verify(fixture_body("testNotification"))
    assert decoded["notification"]["notificationType"] == "TEST"
    assert decoded["notification"]["notificationUUID"] == "9ad56bd2-0bc6-42e0-af24-fd996d87a1e6"
    assert decoded["transaction"] is None and decoded["renewal"] is None


@pytest.mark.parametrize(
    ("fixture", "overrides", "why"),
    [
        ("wrongBundleId", {}, "INVALID_APP_IDENTIFIER"),
        ("testNotification", {"bundle_id": "com.example.other"}, "INVALID_APP_IDENTIFIER"),
        ("testNotification", {"environment": "Production"}, "INVALID_ENVIRONMENT"),
        ("testNotification", {"environment": "Production", "app_apple_id": 99}, "IDENTIFIER"),
        ("missingX5CHeaderClaim", {}, "VERIFICATION_FAILURE"),
        ("testNotification", {"strict_chain": True}, "VERIFICATION_FAILURE"),
        ("testNotification", {"root_certificates": [apple_pki().root_der]}, "FAILURE"),
    ],
)
def test_fixture_variants_are_refused_with_401(
    fixture: str, overrides: dict[str, Any], why: str
) -> None:
    with pytest.raises(BadSignature, match=why) as refused:
        fixture_verifier(**overrides).verify(fixture_body(fixture))
    assert refused.value.status == 401


def test_our_own_chain_verifies_notification_transaction_and_renewal() -> None:
    decoded = our_verifier().verify(subscribed())
    assert decoded["notification"]["subtype"] == "INITIAL_BUY"
    assert decoded["transaction"]["originalTransactionId"] == "2000000111"
    assert decoded["renewal"]["autoRenewStatus"] == 1


def test_missing_x5c_wrong_bundle_and_environment_on_our_chain_are_refused() -> None:
    pki = apple_pki()
    no_x5c = {"signedPayload": pki.sign({"notificationType": "TEST"}, x5c=False)}
    with pytest.raises(BadSignature, match="VERIFICATION_FAILURE"):
        our_verifier().verify(no_x5c)
    with pytest.raises(BadSignature, match="INVALID_APP_IDENTIFIER"):
        our_verifier().verify(subscribed(bundle_id="com.someone.else"))
    with pytest.raises(BadSignature, match="INVALID_ENVIRONMENT"):
        our_verifier(environment="Production", app_apple_id=1234).verify(subscribed())


def test_a_nested_transaction_is_verified_too() -> None:
    other = ApplePKI()  # a chain we do not trust
    txn = apple_transaction(purchased=NOW, expires=NOW + days(30))
    body = apple_notification("DID_RENEW", signed=NOW, txn=txn)
    forged = apple_notification("DID_RENEW", signed=NOW, txn=txn, pki=other)
    assert our_verifier().verify(body)["transaction"] == txn
    with pytest.raises(BadSignature):
        our_verifier().verify(forged)
    # outer signed by us, inner by someone else
    inner = other.sign(txn)
    outer = apple_pki().sign(
        {
            "notificationType": "DID_RENEW",
            "notificationUUID": "u1",
            "signedDate": 1,
            "data": {
                "bundleId": BUNDLE_ID,
                "environment": "Sandbox",
                "signedTransactionInfo": inner,
            },
        }
    )
    with pytest.raises(BadSignature):
        our_verifier().verify({"signedPayload": outer})
    wrong_bundle = apple_transaction(purchased=NOW, expires=NOW + days(30), bundle_id="x.y")
    with pytest.raises(BadSignature, match="INVALID_APP_IDENTIFIER"):
        our_verifier().verify(apple_notification("DID_RENEW", signed=NOW, txn=wrong_bundle))


@pytest.mark.parametrize(
    "overrides",
    [
        {"root_certificates": []},
        {"bundle_id": None},
        {"environment": "LocalTesting"},  # the library skips signatures there: never trusted
        {"environment": "Xcode"},
        {"environment": "Production", "app_apple_id": None},
    ],
)
def test_unsafe_or_missing_configuration_refuses_everything(overrides: dict[str, Any]) -> None:
    with pytest.raises(BadSignature):
        our_verifier(**overrides).verify(subscribed())


def test_offline_checks_are_refused_in_production_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Offline, a back-dated notification from an expired leaf would be judged at its date."""
    from refrain.ingest.store_routes import StoreSettings, apple_route

    monkeypatch.setenv("APPLE_ROOT_CERTS", str(apple_pki().write_root(tmp_path)))
    monkeypatch.setenv("APPLE_ENVIRONMENT", "Production")
    monkeypatch.setenv("APPLE_ENABLE_ONLINE_CHECKS", "false")
    with pytest.raises(ValueError, match="refused with APPLE_ENVIRONMENT=Production"):
        apple_route(StoreSettings())


@pytest.mark.parametrize(
    "body", [None, [], {}, {"signedPayload": 3}, {"signedPayload": "not-a-jws"}]
)
def test_bodies_without_a_jws_are_malformed(body: Any) -> None:
    with pytest.raises(Malformed):
        our_verifier().verify(body)


def test_replay_decodes_what_was_verified() -> None:
    body = subscribed()
    assert decode_unverified(body) == our_verifier().verify(body)
