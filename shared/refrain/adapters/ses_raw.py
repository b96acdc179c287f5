"""SES v2 raw-MIME sending (receipts with a PDF attachment); moto locally.

The client makes exactly one attempt per call: botocore's automatic retries
could re-post a message SES had already accepted (a read timeout after the
send), which would defeat the send lease. Retrying is the delivery's job:
the caller releases its lease and Pub/Sub redelivers.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from refrain.settings import CloudSettings

_LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
_ONE_ATTEMPT = Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=5,
    read_timeout=20,
)


def build_raw_ses(settings: CloudSettings) -> Any:
    extra: dict[str, Any] = {}
    if settings.ses_endpoint:
        extra = {"endpoint_url": settings.ses_endpoint, **_LOCAL_CREDENTIALS}
    return boto3.client("sesv2", region_name=settings.ses_region, config=_ONE_ATTEMPT, **extra)


class RawSesMailer:
    """Implements ``refrain.invoicing.ports.RawMailer``."""

    def __init__(self, client: Any, configuration_set: str | None = None) -> None:
        self._client = client
        self._configuration_set = configuration_set

    def send_raw(self, *, sender: str, to: str, raw: bytes) -> str:
        kwargs: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {"Raw": {"Data": raw}},
        }
        if self._configuration_set:
            kwargs["ConfigurationSetName"] = self._configuration_set
        response = self._client.send_email(**kwargs)
        return str(response["MessageId"])
