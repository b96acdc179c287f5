"""Which payment gateways renewals charge through, from the environment.

The sandbox (the default) is for the local stack only: in the cloud,
refrain.config_contract refuses to start renewal_charge unless
REFRAIN_PAYMENT_GATEWAY=providers, and Adyen needs its merchant account and its
platform named (ADYEN_ENVIRONMENT=test|live; live with ADYEN_LIVE_PREFIX).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    mode: Literal["sandbox", "providers"] = Field(
        default="sandbox", validation_alias="REFRAIN_PAYMENT_GATEWAY"
    )
    stripe_api_key: SecretStr | None = Field(default=None, validation_alias="STRIPE_API_KEY")
    stripe_api_base: str | None = Field(default=None, validation_alias="STRIPE_API_BASE")
    adyen_api_key: SecretStr | None = Field(default=None, validation_alias="ADYEN_API_KEY")
    adyen_merchant_account: str | None = Field(
        default=None, validation_alias="ADYEN_MERCHANT_ACCOUNT"
    )
    adyen_checkout_url: str | None = Field(default=None, validation_alias="ADYEN_CHECKOUT_URL")
    adyen_environment: Literal["test", "live"] | None = Field(
        default=None, validation_alias="ADYEN_ENVIRONMENT"
    )
    adyen_live_prefix: str | None = Field(default=None, validation_alias="ADYEN_LIVE_PREFIX")

    def live_prefix(self) -> str | None:
        """Adyen's live endpoint prefix when the platform is live (None: the test platform)."""
        if self.adyen_environment != "live":
            return None
        if not self.adyen_live_prefix:
            raise ValueError(
                "ADYEN_ENVIRONMENT=live needs ADYEN_LIVE_PREFIX (Customer Area → API URLs)"
            )
        return self.adyen_live_prefix
