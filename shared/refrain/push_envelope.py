"""The Pub/Sub message inside a push delivery or a ``messagePublished`` CloudEvent.

Every consumer (receipts, churn export, renewal charges, feature snapshots)
receives the same envelope, ``{"message": {"data": base64, "attributes": {...},
"messageId": ...}, "subscription": ...}``; this is the one place that reads it,
so a malformed delivery is refused the same way everywhere. Pure: no client
library is needed to read a dict.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from refrain.observability import trace_from_attributes

__all__ = ["MalformedPush", "PushMessage", "decode_push", "push_message_id"]


class MalformedPush(ValueError):
    """The delivery is not a Pub/Sub message: it can never be processed."""


@dataclass(frozen=True, slots=True)
class PushMessage:
    """What a consumer needs of one Pub/Sub message, push- or pull-delivered."""

    data: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    message_id: str = ""

    @property
    def trace(self) -> str | None:
        """The Cloud Logging trace the publisher put on the message, if any."""
        return trace_from_attributes(self.attributes)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def push_message_id(body: object) -> str:
    """The message id of a delivery, for log lines, even when the rest is malformed."""
    message = _mapping(_mapping(body).get("message"))
    return str(message.get("messageId") or message.get("message_id") or "")


def decode_push(body: object) -> PushMessage:
    """The message of a push body / CloudEvent ``data``; any defect is a MalformedPush."""
    message = _mapping(body).get("message")
    if not isinstance(message, Mapping):
        raise MalformedPush("no Pub/Sub message in the delivery")
    raw = message.get("data") or ""
    if not isinstance(raw, str | bytes):
        raise MalformedPush("message data is not base64 text")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedPush(f"message data is not base64: {exc}") from exc
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise MalformedPush("message attributes are not an object")
    return PushMessage(data, {str(k): str(v) for k, v in attributes.items()}, push_message_id(body))
