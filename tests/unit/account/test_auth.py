"""Who may call the account API: Firebase ID tokens, the local emulator's, service accounts."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from refrain.account.auth import (
    Authenticator,
    EmulatorTokens,
    FirebaseTokens,
    LocalTokensRefused,
    Unauthenticated,
    build_verifier,
)
from refrain.account.settings import AccountSettings
from refrain.config_contract import IncompleteConfiguration, problems, refuse_incomplete
from refrain_tools.simulator.google_play import GoogleSigner, google_signer
from tests.unit.providers.test_google_play import FakeCertsEndpoint

PROJECT = "refrain-test"
CERTS = "http://certs.test/securetoken"


def firebase_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT,
              "sub": "uid_ana", "iat": now, "exp": now + 3600}  # fmt: skip
    claims.update(overrides)
    return claims


def unsigned(claims: dict[str, Any], signature: str = "") -> str:
    """What the Firebase Auth emulator issues: alg none, no signature."""

    def seg(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'none', 'typ': 'JWT'})}.{seg(claims)}.{signature}"


def production() -> FirebaseTokens:
    return FirebaseTokens(PROJECT, CERTS, FakeCertsEndpoint(google_signer().certs()))


def settings(**env: str) -> AccountSettings:
    return AccountSettings(**{"REFRAIN_FIREBASE_PROJECT_ID": PROJECT, **env})  # type: ignore[arg-type]


def test_a_signed_firebase_token_gives_its_uid() -> None:
    claims = production()(google_signer().token(**firebase_claims()))
    assert claims["sub"] == "uid_ana"


@pytest.mark.parametrize(
    "token",
    [
        unsigned(firebase_claims()),  # the emulator's: no signature to check
        GoogleSigner().token(**firebase_claims()),  # a key Google never published
        google_signer().token(**firebase_claims(aud="another-project")),
        google_signer().token(**firebase_claims(iss="https://securetoken.google.com/other")),
        google_signer().token(**firebase_claims(iat=1_600_000_000, exp=1_600_003_600)),
        google_signer().token(**firebase_claims(sub="")),
        google_signer().token(**firebase_claims(sub="x" * 129)),
        "not.a.jwt",
    ],
)
def test_the_production_verifier_refuses(token: str) -> None:
    with pytest.raises(Unauthenticated):
        production()(token)


def test_a_production_configuration_refuses_emulator_tokens() -> None:
    emulated = settings(FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9099")
    with pytest.raises(LocalTokensRefused):
        build_verifier(emulated, local=False)
    cloud = {"GOOGLE_CLOUD_PROJECT": "p", "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}
    assert any("FIREBASE_AUTH_EMULATOR_HOST" in p for p in problems("account_api", cloud))
    with pytest.raises(IncompleteConfiguration, match="FIREBASE_AUTH_EMULATOR_HOST"):
        refuse_incomplete("account_api", cloud)
    plain = build_verifier(settings(), local=True)  # no emulator: the real verifier, even locally
    assert isinstance(plain.users, FirebaseTokens)


def test_the_local_emulator_mode_checks_everything_but_the_signature() -> None:
    local = build_verifier(settings(FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9099"), local=True)
    users = local.users
    assert isinstance(users, EmulatorTokens)
    assert users(unsigned(firebase_claims()))["sub"] == "uid_ana"
    for bad in (firebase_claims(aud="x"), firebase_claims(exp=int(time.time()) - 60),
                firebase_claims(iss="https://evil.example"), {"sub": "uid_ana"}):  # fmt: skip
        with pytest.raises(Unauthenticated):
            users(unsigned(bad))
    with pytest.raises(Unauthenticated, match="signature"):
        users(unsigned(firebase_claims(), signature="abc"))
    # A token that claims a real algorithm is verified for real.
    users.signed = production()
    assert users(google_signer().token(**firebase_claims()))["sub"] == "uid_ana"
    with pytest.raises(Unauthenticated):
        users(GoogleSigner().token(**firebase_claims()))


def test_the_account_header_selects_the_service_mode() -> None:
    auth: Authenticator = build_verifier(
        settings(REFRAIN_ACCOUNT_SERVICE_AUDIENCE="aud-x",
                 REFRAIN_ACCOUNT_SERVICE_ACCOUNTS="tool@p.iam.gserviceaccount.com"),
        local=False, request=FakeCertsEndpoint(google_signer().certs()),
    )  # fmt: skip
    service = google_signer().token(aud="aud-x", email="tool@p.iam.gserviceaccount.com")
    caller = auth.caller({"authorization": f"Bearer {service}", "x-refrain-account": "uid_b"})
    assert (caller.account_id, caller.kind) == ("uid_b", "service")
    user = google_signer().token(**firebase_claims())
    auth.users = production()
    assert auth.caller({"authorization": f"Bearer {user}"}).account_id == "uid_ana"
    for headers in (
        {"authorization": f"Bearer {user}", "x-refrain-account": "uid_b"},  # a user as a service
        {"authorization": f"Bearer {google_signer().token(aud='aud-x', email='x@evil.example')}",
         "x-refrain-account": "uid_b"},
        {"authorization": f"Bearer {service}"},  # a service token without the header
        {"authorization": "Basic abc"},
        {},
    ):  # fmt: skip
        with pytest.raises(Unauthenticated):
            auth.caller(headers)


def test_no_service_account_configured_refuses_the_service_mode() -> None:
    auth = build_verifier(settings(), local=False)
    token = google_signer().token(aud="aud-x", email="tool@p.iam.gserviceaccount.com")
    with pytest.raises(Unauthenticated, match="not configured"):
        auth.caller({"authorization": f"Bearer {token}", "x-refrain-account": "uid_b"})
