"""What the account API reads from its environment (docs/CONFIGURATION.md)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Google's published signing certificates of Firebase Authentication ID tokens
# (what google.oauth2.id_token.verify_firebase_token fetches).
FIREBASE_CERTS_URL = (
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
)
GOOGLE_OIDC_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


class AccountSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # The Firebase (Identity Platform) project whose users sign in: the ID token's audience.
    firebase_project_id: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "REFRAIN_FIREBASE_PROJECT_ID", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"
        ),
    )
    # The Firebase web API key the account page signs in with: public by design (it names
    # the project to Firebase Auth, it grants nothing); unset, the page cannot sign in.
    web_api_key: str | None = Field(None, validation_alias="REFRAIN_FIREBASE_WEB_API_KEY")
    # Local stack only: the Firebase Auth emulator, whose tokens are unsigned.
    auth_emulator_host: str | None = Field(None, validation_alias="FIREBASE_AUTH_EMULATOR_HOST")
    # Local stack only: where the signing certificates are fetched (a local stand-in).
    firebase_certs_url: str = Field(
        FIREBASE_CERTS_URL, validation_alias="REFRAIN_FIREBASE_CERTS_URL"
    )
    # Service-to-service callers: Google-signed OIDC tokens for this audience, from these
    # service accounts (comma-separated e-mails); none configured: the mode is off.
    service_audience: str | None = Field(None, validation_alias="REFRAIN_ACCOUNT_SERVICE_AUDIENCE")
    service_accounts: str = Field("", validation_alias="REFRAIN_ACCOUNT_SERVICE_ACCOUNTS")
    service_certs_url: str = Field(
        GOOGLE_OIDC_CERTS_URL, validation_alias="REFRAIN_ACCOUNT_SERVICE_CERTS_URL"
    )
    # Browsers may call from these origins only (comma-separated, exact scheme://host[:port]).
    cors_origins: str = Field("", validation_alias="REFRAIN_ACCOUNT_CORS_ORIGINS")
    max_body_bytes: int = Field(
        16 * 1024, ge=256, le=1024 * 1024, validation_alias="REFRAIN_ACCOUNT_MAX_BODY_BYTES"
    )
    # Token buckets, per instance: steady requests per second and burst, per account and IP.
    account_rate_per_s: float = Field(5.0, gt=0, validation_alias="REFRAIN_ACCOUNT_RATE_PER_S")
    account_burst: int = Field(20, ge=1, validation_alias="REFRAIN_ACCOUNT_BURST")
    ip_rate_per_s: float = Field(20.0, gt=0, validation_alias="REFRAIN_ACCOUNT_IP_RATE_PER_S")
    ip_burst: int = Field(60, ge=1, validation_alias="REFRAIN_ACCOUNT_IP_BURST")
    # How long a client (never a shared cache) may reuse an entitlement answer.
    entitlement_max_age_s: int = Field(
        30, ge=0, le=300, validation_alias="REFRAIN_ENTITLEMENT_MAX_AGE_S"
    )
    # X-Forwarded-For entries appended by trusted proxies (Google's front end: 1).
    trusted_proxy_hops: int = Field(1, ge=0, le=5, validation_alias="REFRAIN_TRUSTED_PROXY_HOPS")

    # Where Adyen sends the subscriber back after a card-update session (the account page).
    card_return_url: str = Field(
        "https://account.refrain.example", validation_alias="REFRAIN_ACCOUNT_URL"
    )

    @property
    def allowed_origins(self) -> frozenset[str]:
        return frozenset(o.rstrip("/") for o in _csv(self.cors_origins))

    @property
    def allowed_service_accounts(self) -> frozenset[str]:
        return frozenset(_csv(self.service_accounts))
