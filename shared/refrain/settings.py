"""Where the clients point, read from the environment.

The same code runs against the local stack and against real GCP/AWS: the
standard Google variables select the emulators, and two Refrain variables
select the BigQuery and SES endpoints. Unset means the real service.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    project: str = Field(
        default="refrain-local",
        validation_alias=AliasChoices("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"),
    )
    firestore_emulator_host: str | None = Field(
        default=None, validation_alias="FIRESTORE_EMULATOR_HOST"
    )
    pubsub_emulator_host: str | None = Field(default=None, validation_alias="PUBSUB_EMULATOR_HOST")
    bigquery_endpoint: str | None = Field(
        default=None, validation_alias="REFRAIN_BIGQUERY_ENDPOINT"
    )
    bigquery_location: str = Field(default="EU", validation_alias="REFRAIN_BIGQUERY_LOCATION")
    ses_endpoint: str | None = Field(default=None, validation_alias="REFRAIN_SES_ENDPOINT")
    ses_region: str = Field(default="eu-west-1", validation_alias="REFRAIN_SES_REGION")
    mail_from: str = Field(default="receipts@refrain.example", validation_alias="REFRAIN_MAIL_FROM")
    # Outage bounds. A provider gives up on a webhook after about 10 s and a push
    # subscription's ack deadline is short, so a dependency that does not answer must
    # turn into a 5xx/nack quickly rather than after the libraries' 60 s retry budget.
    firestore_deadline_s: float = Field(
        default=8.0, gt=0, validation_alias="REFRAIN_FIRESTORE_DEADLINE_S"
    )
    publish_timeout_s: float = Field(
        default=8.0, gt=0, validation_alias="REFRAIN_PUBLISH_TIMEOUT_S"
    )

    @property
    def is_local(self) -> bool:
        return bool(self.firestore_emulator_host or self.pubsub_emulator_host)
