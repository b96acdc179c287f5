"""The Apple root shipped with the code is Apple's, and is what the webhook trusts by default."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509

from refrain.ingest.store_routes import APPLE_ROOT_G3, StoreSettings

# As Apple lists it at https://www.apple.com/certificateauthority/ (Apple Root CA - G3).
APPLE_G3_SHA256 = "63343ABFB89A6A03EBB57E9B3F5FA7BE7C4F5C756F3017B3A8C488C3653E9179"


def test_the_packaged_root_is_apple_root_ca_g3() -> None:
    der = APPLE_ROOT_G3.read_bytes()
    assert hashlib.sha256(der).hexdigest().upper() == APPLE_G3_SHA256
    cert = x509.load_der_x509_certificate(der)
    assert cert.subject.rfc4514_string() == (
        "C=US,O=Apple Inc.,OU=Apple Certification Authority,CN=Apple Root CA - G3"
    )


def test_unset_roots_mean_apple_s_and_set_roots_replace_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APPLE_ROOT_CERTS", raising=False)
    assert StoreSettings().root_cert_paths == (str(APPLE_ROOT_G3),)
    monkeypatch.setenv("APPLE_ROOT_CERTS", "/a.cer, /b.cer")
    assert StoreSettings().root_cert_paths == ("/a.cer", "/b.cer")
