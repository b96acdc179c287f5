"""Wire details of the simulated payments APIs: Stripe's form encoding, error bodies, our ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

Answer = tuple[int, dict[str, Any]]


def parse_stripe_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``metadata[a]=b``) back into nested dicts."""
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        target = params
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return params


def parse_anchor(raw: str | None) -> datetime | None:
    """Our ``billing_anchor`` metadata (ISO 8601), or None."""
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def parse_reference(reference: str) -> tuple[str | None, datetime | None]:
    """(subscription id, anchor) from our charge id ``{sub}:{%Y%m%dT%H%M%SZ}:{attempt}``."""
    parts = reference.split(":")
    if len(parts) != 3:
        return None, None
    try:
        return parts[0], datetime.strptime(parts[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return parts[0], None


def is_adyen_payments(path: str) -> bool:
    """``/v71/payments`` (any Checkout API version)."""
    parts = path.strip("/").split("/")
    return (
        len(parts) == 2
        and parts[0][:1] == "v"
        and parts[0][1:].isdigit()
        and parts[1] == "payments"
    )


def stripe_error(status: int, kind: str, code: str | None, message: str) -> Answer:
    return status, {"error": {"type": kind, "code": code, "message": message}}


def adyen_error(status: int, code: str, message: str, kind: str = "validation") -> Answer:
    return status, {"status": status, "errorCode": code, "message": message, "errorType": kind}


KEY_REUSED = (
    "Keys for idempotent requests can only be used with the same parameters "
    "they were first used with."
)
