"""Which payment gateways renewals charge through, from the environment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    mode: Literal["sandbox", "providers"] = Field(
        default="sandbox", validation_alias="REFRAIN_PAYMENT_GATEWAY"
    )
    stripe_api_key: str | None = Field(default=None, validation_alias="STRIPE_API_KEY")
    stripe_api_base: str | None = Field(default=None, validation_alias="STRIPE_API_BASE")
    adyen_api_key: str | None = Field(default=None, validation_alias="ADYEN_API_KEY")
    adyen_merchant_account: str | None = Field(
        default=None, validation_alias="ADYEN_MERCHANT_ACCOUNT"
    )
    adyen_checkout_url: str | None = Field(default=None, validation_alias="ADYEN_CHECKOUT_URL")
    adyen_live_prefix: str | None = Field(default=None, validation_alias="ADYEN_LIVE_PREFIX")
