"""The webhook routes: provider → (verify, normalise), built from settings."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from refrain.domain.catalog import Catalog
from refrain.ingest.http import Route, secrets_list
from refrain.ingest.model import ProviderEvent
from refrain.ingest.rejections import BadSignature, Malformed
from refrain.ingest.request import header, json_body
from refrain.providers.price_plans import PricePlans, ReferenceConvention

if TYPE_CHECKING:
    from refrain.providers.stripe_events import SessionPrices

# Provider libraries load on the first request for that provider, not at cold start:
# an instance serving only Stripe never imports Adyen's SDK, and the reverse.
DEFAULT_TOLERANCE_S = 300


class WebhookSettings(BaseSettings):
    """Secrets come from the environment (Secret Manager mounts them in the cloud)."""

    model_config = SettingsConfigDict(extra="ignore")

    stripe_webhook_secret: SecretStr | None = Field(None, validation_alias="STRIPE_WEBHOOK_SECRET")
    stripe_tolerance_s: int = Field(DEFAULT_TOLERANCE_S, validation_alias="STRIPE_TOLERANCE_S")
    adyen_hmac_key: SecretStr | None = Field(None, validation_alias="ADYEN_HMAC_KEY")
    adyen_basic_auth_user: str | None = Field(None, validation_alias="ADYEN_BASIC_AUTH_USER")
    adyen_basic_auth_password: SecretStr | None = Field(
        None, validation_alias="ADYEN_BASIC_AUTH_PASSWORD"
    )
    audit_retention_days: int = Field(30, validation_alias="REFRAIN_AUDIT_RETENTION_DAYS")
    # A business's own provider prices and references → catalog plans (price_plans.py).
    stripe_price_plans: dict[str, str] = Field(
        default_factory=dict, validation_alias="STRIPE_PRICE_PLANS"
    )
    adyen_reference_pattern: str | None = Field(None, validation_alias="ADYEN_REFERENCE_PATTERN")
    adyen_reference_plans: dict[str, str] = Field(
        default_factory=dict, validation_alias="ADYEN_REFERENCE_PLANS"
    )
    # Read only to map a checkout without Refrain's metadata (its line items' Prices).
    stripe_api_key: SecretStr | None = Field(None, validation_alias="STRIPE_API_KEY")
    stripe_api_base: str | None = Field(None, validation_alias="STRIPE_API_BASE")


def stripe_route(settings: WebhookSettings, session_prices: SessionPrices | None = None) -> Route:
    secret = settings.stripe_webhook_secret
    secrets = secrets_list(secret.get_secret_value() if secret else None)
    prices = PricePlans.from_config(settings.stripe_price_plans)  # bad config: fails at start

    def parse(raw: bytes) -> Any:
        payload = json_body(raw)
        if not isinstance(payload, dict):
            raise Malformed("a Stripe event is a JSON object")
        return payload

    def verify(raw: bytes, headers: Mapping[str, str]) -> Any:
        from refrain.providers.stripe_signature import verify_stripe

        verify_stripe(
            raw, header(headers, "Stripe-Signature"), secrets, settings.stripe_tolerance_s
        )
        return parse(raw)

    def normalise(payload: Any, catalog: Catalog) -> list[ProviderEvent]:
        from refrain.providers.stripe_events import normalise_stripe_events

        return normalise_stripe_events(payload, catalog, prices, session_prices)

    return Route("stripe", verify, parse, normalise)


def adyen_route(settings: WebhookSettings) -> Route:
    key = settings.adyen_hmac_key.get_secret_value() if settings.adyen_hmac_key else None
    user = settings.adyen_basic_auth_user
    password = settings.adyen_basic_auth_password
    if key and not (user and password):
        # Adyen's HMAC leaves additionalData unsigned (the shopper's token, e-mail and our
        # checkout metadata): basic authentication is what keeps a captured item from
        # being re-posted with them rewritten (docs/SECURITY.md).
        raise ValueError(
            "ADYEN_BASIC_AUTH_USER and ADYEN_BASIC_AUTH_PASSWORD are required with ADYEN_HMAC_KEY"
        )
    convention = ReferenceConvention.from_config(
        settings.adyen_reference_pattern, settings.adyen_reference_plans
    )

    def parse(raw: bytes) -> Any:
        from refrain.providers.adyen_webhook import notification_items

        return notification_items(json_body(raw))

    def verify(raw: bytes, headers: Mapping[str, str]) -> Any:
        if user and password:  # always, when a key is configured (see above)
            _check_basic_auth(header(headers, "Authorization"), user, password.get_secret_value())
        from refrain.providers.adyen_webhook import verify_adyen

        items = parse(raw)
        verify_adyen(items, key)
        return items

    def normalise(items: Any, catalog: Catalog) -> list[ProviderEvent]:
        from refrain.providers.adyen_webhook import normalise_adyen_item

        return [normalise_adyen_item(item, catalog, convention) for item in items]

    return Route(
        "adyen", verify, parse, normalise, accepted_body="[accepted]", accepted_type="text/plain"
    )


def _check_basic_auth(header: str | None, user: str, password: str) -> None:
    if not header or not header.startswith("Basic "):
        raise BadSignature("missing basic auth")
    try:
        given = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise BadSignature("unreadable basic auth") from exc
    expected = f"{user}:{password}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise BadSignature("basic auth does not match")


def card_routes(
    settings: WebhookSettings, session_prices: SessionPrices | None = None
) -> dict[str, Route]:
    return {"/stripe": stripe_route(settings, session_prices), "/adyen": adyen_route(settings)}
