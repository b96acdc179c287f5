"""How Refrain reads the fields every Stripe object shares: timestamps, amounts, ids, metadata."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from refrain.domain.money import Money
from refrain.domain.provider_amounts import from_provider_amount
from refrain.ingest.model import MappingError

PROVIDER = "stripe"


def timestamp(value: Any) -> datetime | None:
    """A unix timestamp in seconds (Stripe's ``created``, ``current_period_end``, …)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"expected a unix timestamp, got {value!r}")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MappingError(f"timestamp out of range: {value!r}") from exc


def money(amount: Any, currency: Any) -> Money:
    if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(currency, str):
        raise MappingError("amount and currency are required")
    return from_provider_amount(amount, currency.upper(), PROVIDER)


def ref(object_id: str | None) -> str | None:
    """The reference index key of a Stripe object id (``stripe:pi_…``)."""
    return f"{PROVIDER}:{object_id}" if object_id else None


def metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
