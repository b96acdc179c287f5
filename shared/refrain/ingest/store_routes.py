"""The app-store webhook routes: POST /google-play and POST /apple.

Both are ordinary :class:`~refrain.ingest.service.Route` s, so they share the
card providers' discipline: verify before parsing, audit record, one ledger
transaction (dedupe + state machine + outbox), publish, 2xx only after the
commit. The settings live here, apart from the card providers' ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from refrain.domain.catalog import Catalog
from refrain.ingest.http import Route
from refrain.ingest.model import ProviderEvent
from refrain.ingest.request import header, json_body
from refrain.providers.apple_notifications import AppleConfig, normalise_apple
from refrain.providers.apple_verify import AppleVerifier, decode_unverified
from refrain.providers.google_play_mapping import PlayConfig, PlayPurchases, normalise_play
from refrain.providers.google_play_push_auth import GOOGLE_CERTS_URL, PushAuthenticator
from refrain.providers.google_play_rtdn import PlayPush, decode_push

# Apple's public root, shipped in every function archive (apple_roots/README.md).
APPLE_ROOT_G3 = (
    Path(__file__).resolve().parent.parent / "providers" / "apple_roots" / "AppleRootCA-G3.cer"
)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


class StoreSettings(BaseSettings):
    """App-store configuration from the environment (none of it is secret)."""

    model_config = SettingsConfigDict(extra="ignore")

    play_push_audience: str | None = Field(None, validation_alias="GOOGLE_PLAY_PUSH_AUDIENCE")
    play_push_service_account: str | None = Field(
        None, validation_alias="GOOGLE_PLAY_PUSH_SERVICE_ACCOUNT"
    )
    play_push_certs_url: str = Field(
        GOOGLE_CERTS_URL, validation_alias="GOOGLE_PLAY_PUSH_CERTS_URL"
    )
    play_package_names: str = Field("", validation_alias="GOOGLE_PLAY_PACKAGE_NAMES")
    play_product_plans: dict[str, str] = Field(
        default_factory=dict, validation_alias="GOOGLE_PLAY_PRODUCT_PLANS"
    )
    play_api_base_url: str = Field(
        "https://androidpublisher.googleapis.com", validation_alias="GOOGLE_PLAY_API_BASE_URL"
    )
    play_api_anonymous: bool = Field(False, validation_alias="GOOGLE_PLAY_API_ANONYMOUS")
    play_hold_days: int = Field(30, ge=1, le=90, validation_alias="GOOGLE_PLAY_HOLD_DAYS")

    apple_root_certs: str = Field("", validation_alias="APPLE_ROOT_CERTS")
    apple_bundle_id: str | None = Field(None, validation_alias="APPLE_BUNDLE_ID")
    apple_environment: str = Field("Production", validation_alias="APPLE_ENVIRONMENT")
    apple_app_apple_id: int | None = Field(None, validation_alias="APPLE_APP_APPLE_ID")
    apple_online_checks: bool = Field(True, validation_alias="APPLE_ENABLE_ONLINE_CHECKS")
    apple_product_plans: dict[str, str] = Field(
        default_factory=dict, validation_alias="APPLE_PRODUCT_PLANS"
    )
    apple_billing_retry_days: int = Field(
        60, ge=1, le=90, validation_alias="APPLE_BILLING_RETRY_DAYS"
    )

    @property
    def package_names(self) -> frozenset[str]:
        """Comma-separated; empty accepts any package (the push auth still applies)."""
        return frozenset(_csv(self.play_package_names))

    @property
    def root_cert_paths(self) -> tuple[str, ...]:
        """Comma-separated DER files; unset: Apple Root CA - G3, packaged with the code."""
        return _csv(self.apple_root_certs) or (str(APPLE_ROOT_G3),)


def google_play_route(settings: StoreSettings, purchases: PlayPurchases) -> Route:
    auth = PushAuthenticator(
        audience=settings.play_push_audience,
        service_account=settings.play_push_service_account,
        certs_url=settings.play_push_certs_url,
    )
    packages = settings.package_names
    config = PlayConfig(
        product_plans=dict(settings.play_product_plans), hold_days=settings.play_hold_days
    )
    api = purchases

    def parse(raw: bytes) -> PlayPush:
        return decode_push(json_body(raw))

    def verify(raw: bytes, headers: Mapping[str, str]) -> PlayPush:
        auth.verify(header(headers, "Authorization"))
        return parse(raw)

    def normalise(push: PlayPush, catalog: Catalog) -> list[ProviderEvent]:
        if packages and push.package_name not in packages:
            # Authentic, for another app of the same developer account: acknowledged and
            # recorded, never refused (Pub/Sub would redeliver it until it dead-letters).
            return [
                ProviderEvent(
                    provider="google_play",
                    event_id=push.message_id,
                    event_type=push.type_name(),
                    occurred_at=push.event_time,
                    ignored=f"package {push.package_name} is not one of ours",
                )
            ]
        return [normalise_play(push, api, catalog, config)]

    return Route("google_play", verify, parse, normalise)


def apple_route(settings: StoreSettings) -> Route:
    if settings.apple_environment == "Production" and not settings.apple_online_checks:
        # Offline, the chain is judged at the notification's own signedDate: a back-dated
        # notification signed by an expired or revoked leaf would pass (docs/SECURITY.md).
        raise ValueError(
            "APPLE_ENABLE_ONLINE_CHECKS=false is refused with APPLE_ENVIRONMENT=Production"
        )
    verifier = AppleVerifier(
        root_certificates=[Path(p).read_bytes() for p in settings.root_cert_paths],
        bundle_id=settings.apple_bundle_id,
        environment=settings.apple_environment,
        app_apple_id=settings.apple_app_apple_id,
        online_checks=settings.apple_online_checks,
    )
    config = AppleConfig(
        product_plans=dict(settings.apple_product_plans),
        billing_retry_days=settings.apple_billing_retry_days,
    )

    def parse(raw: bytes) -> dict[str, Any]:
        return decode_unverified(json_body(raw))

    def verify(raw: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        return verifier.verify(json_body(raw))

    def normalise(decoded: dict[str, Any], catalog: Catalog) -> list[ProviderEvent]:
        return [normalise_apple(decoded, catalog, config)]

    return Route("apple", verify, parse, normalise)


def store_routes(settings: StoreSettings, purchases: PlayPurchases) -> dict[str, Route]:
    """The app-store routes; ``purchases`` is the Play Developer API (built in bootstrap)."""
    return {
        "/google-play": google_play_route(settings, purchases),
        "/apple": apple_route(settings),
    }
