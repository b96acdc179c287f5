"""Receipt settings from the environment (Secret Manager / deploy config in the cloud)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from refrain.invoicing.numbering import DEFAULT_SHARDS, MAX_SHARDS


class ReceiptSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # Where "update your payment method" links point (the customer's account pages).
    account_url: str = Field(
        default="https://account.refrain.example", validation_alias="REFRAIN_ACCOUNT_URL"
    )
    # Parallel invoice series per market prefix (see numbering.py for why and the law).
    series_shards: int = Field(
        default=DEFAULT_SHARDS,
        ge=1,
        le=MAX_SHARDS,
        validation_alias="REFRAIN_INVOICE_SERIES_SHARDS",
    )
    send_lease_s: float = Field(default=120.0, gt=0, validation_alias="REFRAIN_RECEIPT_LEASE_S")
    sender_name: str = Field(default="Refrain", validation_alias="REFRAIN_MAIL_FROM_NAME")
    ses_configuration_set: str | None = Field(
        default=None, validation_alias="REFRAIN_SES_CONFIGURATION_SET"
    )
