"""Google Play real-time developer notifications: the Pub/Sub push envelope, decoded.

A push request carries ``{"message": {"data": base64(DeveloperNotification),
"messageId": ..., "publishTime": ...}, "subscription": ...}``. The
notification only says *that* something changed (Google's reference tells
us to call ``purchases.subscriptionsv2.get``), so this module only decodes;
:mod:`refrain.providers.google_play_mapping` turns the fetched purchase into
a state report. Dedupe key: the Pub/Sub ``messageId``.

``eventTimeMillis`` is an int64; Pub/Sub JSON usually encodes it as a string,
so both are accepted.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from refrain.ingest.rejections import Malformed
from refrain.ingest.request import json_body

PROVIDER = "google_play"

# Year 9999: anything later is not a time Google sends (and overflows datetime).
_MAX_MILLIS = 253_402_300_800_000


class PlayNotificationType(IntEnum):
    """``subscriptionNotification.notificationType`` (RTDN reference)."""

    SUBSCRIPTION_RECOVERED = 1
    SUBSCRIPTION_RENEWED = 2
    SUBSCRIPTION_CANCELED = 3
    SUBSCRIPTION_PURCHASED = 4
    SUBSCRIPTION_ON_HOLD = 5
    SUBSCRIPTION_IN_GRACE_PERIOD = 6
    SUBSCRIPTION_RESTARTED = 7
    SUBSCRIPTION_PRICE_CHANGE_CONFIRMED = 8
    SUBSCRIPTION_DEFERRED = 9
    SUBSCRIPTION_PAUSED = 10
    SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED = 11
    SUBSCRIPTION_REVOKED = 12
    SUBSCRIPTION_EXPIRED = 13
    SUBSCRIPTION_ITEMS_CHANGED = 17
    SUBSCRIPTION_CANCELLATION_SCHEDULED = 18
    SUBSCRIPTION_PRICE_CHANGE_UPDATED = 19
    SUBSCRIPTION_PENDING_PURCHASE_CANCELED = 20
    SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED = 22


@dataclass(frozen=True, slots=True)
class PlayPush:
    """One decoded push: Pub/Sub's message id and the developer notification."""

    message_id: str
    event_time: datetime
    package_name: str
    notification: dict[str, Any]

    @property
    def kind(self) -> str:
        """Which notification the envelope carries (one of its documented keys)."""
        for key in (
            "subscriptionNotification",
            "voidedPurchaseNotification",
            "oneTimeProductNotification",
            "testNotification",
        ):
            if isinstance(self.notification.get(key), dict):
                return key
        return "unknown"

    def type_name(self) -> str:
        if self.kind == "subscriptionNotification":
            raw = self.notification["subscriptionNotification"].get("notificationType")
            try:
                return PlayNotificationType(int(raw)).name
            except (TypeError, ValueError):
                return f"SUBSCRIPTION_NOTIFICATION_{raw}"
        return {
            "voidedPurchaseNotification": "VOIDED_PURCHASE",
            "oneTimeProductNotification": "ONE_TIME_PRODUCT",
            "testNotification": "TEST_NOTIFICATION",
        }.get(self.kind, "UNKNOWN")


def event_time(value: Any) -> datetime:
    """``eventTimeMillis`` as an aware datetime; int or decimal string."""
    if isinstance(value, bool):
        raise Malformed("eventTimeMillis is not a number")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 0 <= value < _MAX_MILLIS:
        raise Malformed(f"eventTimeMillis is not a millisecond timestamp: {str(value)[:40]!r}")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def decode_push(envelope: Any) -> PlayPush:
    """Decode a Pub/Sub push body; Malformed (400) for anything that is not one."""
    if not isinstance(envelope, Mapping) or not isinstance(envelope.get("message"), Mapping):
        raise Malformed("not a Pub/Sub push envelope")
    message = envelope["message"]
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise Malformed("push message has no messageId")
    data = message.get("data")
    if not isinstance(data, str) or not data:
        raise Malformed("push message has no data")
    try:
        notification = json_body(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise Malformed(f"message data is not base64 JSON: {type(exc).__name__}") from exc
    if not isinstance(notification, dict):
        raise Malformed("developer notification is not a JSON object")
    package = notification.get("packageName")
    if not isinstance(package, str) or not package:
        raise Malformed("developer notification has no packageName")
    return PlayPush(
        message_id=message_id,
        event_time=event_time(notification.get("eventTimeMillis")),
        package_name=package,
        notification=notification,
    )
