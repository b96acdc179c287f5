"""Amazon SES v2 mailer; moto's server stands in locally."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from refrain.settings import CloudSettings

# moto accepts any credentials; these keep boto3 from searching for real ones.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def build_ses(settings: CloudSettings) -> Any:
    extra: dict[str, str] = {}
    if settings.ses_endpoint:
        extra = {"endpoint_url": settings.ses_endpoint, **_LOCAL_CREDENTIALS}
    return boto3.client("sesv2", region_name=settings.ses_region, **extra)


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text: str
    html: str


class SesMailer:
    def __init__(self, client: Any, sender: str) -> None:
        self._client = client
        self._sender = sender

    def send(self, mail: OutgoingMail) -> str:
        """Send one message and return SES's message id."""
        response = self._client.send_email(
            FromEmailAddress=self._sender,
            Destination={"ToAddresses": [mail.to]},
            Content={
                "Simple": {
                    "Subject": {"Data": mail.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": mail.text, "Charset": "UTF-8"},
                        "Html": {"Data": mail.html, "Charset": "UTF-8"},
                    },
                }
            },
        )
        return str(response["MessageId"])
