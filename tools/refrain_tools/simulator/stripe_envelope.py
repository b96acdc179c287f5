"""The envelope every Stripe event shares, ids and amounts as Stripe writes them.

Ids are derived from a process-wide counter, so two calls never collide; the
event time (``created``) is the caller's simulated time.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from refrain.domain.money import Money
from refrain.domain.provider_amounts import to_provider_amount

STRIPE_API_VERSION = "2025-06-30.basil"
_counter = itertools.count(1)


def new_id(prefix: str, width: int = 14) -> str:
    """A unique provider-looking id such as ``pi_00000000000042``."""
    return f"{prefix}_{next(_counter):0{width}d}"


def unix(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("simulated times must be timezone-aware")
    return int(at.timestamp())


def stripe_amount(money: Money) -> tuple[int, str]:
    """(amount, lower-case currency) as Stripe's API and webhooks carry them."""
    return to_provider_amount(money, "stripe"), money.currency.lower()


def stripe_event(
    event_type: str,
    obj: dict[str, Any],
    at: datetime,
    *,
    event_id: str | None = None,
    idempotency_key: str | None = None,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The envelope of every Stripe event (`created` is the simulated time).

    ``previous_attributes``: on ``*.updated``-style events (and ``charge.refunded``),
    the changed fields' values before the change, as Stripe sends them.
    """
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": unix(at),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {
            "id": new_id("req") if idempotency_key else None,
            "idempotency_key": idempotency_key,
        },
        "type": event_type,
    }
