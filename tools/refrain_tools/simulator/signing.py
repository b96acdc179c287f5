"""How Stripe and Adyen sign webhooks, from the sending side.

Stripe: ``Stripe-Signature: t={unix},v1={HMAC-SHA256(secret, "{t}.{body}")}``,
computed per delivery attempt with the real time (the receiver checks its
tolerance window against its own clock, whatever the event's ``created``).
Adyen: HMAC-SHA256 over the item's fixed fields with the hex key, in
``additionalData.hmacSignature`` (Adyen's own library computes it).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time
from typing import Any

import Adyen.util


def stripe_signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header value for ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def sign_adyen_item(item: dict[str, Any], key_hex: str) -> dict[str, Any]:
    """A copy of a NotificationRequestItem with a fresh ``hmacSignature``."""
    signed = copy.deepcopy(item)
    extra = dict(signed.get("additionalData") or {})
    extra.pop("hmacSignature", None)
    unsigned = {k: v for k, v in signed.items() if k != "additionalData"}
    extra["hmacSignature"] = Adyen.util.generate_notification_sig(unsigned, key_hex).decode()
    signed["additionalData"] = extra
    return signed


def adyen_request(items: list[dict[str, Any]], key_hex: str) -> dict[str, Any]:
    """The JSON body Adyen POSTs: signed items wrapped in notificationItems."""
    return {
        "live": "false",
        "notificationItems": [
            {"NotificationRequestItem": sign_adyen_item(i, key_hex)} for i in items
        ],
    }


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` value Adyen sends when basic authentication is configured."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
