"""The payment gateway port: charge a stored payment method off-session, once per key.

Three answers and one exception, because the worker must treat them differently:

* ``SUCCEEDED``: money moved; record PaymentSucceeded.
* ``DECLINED`` with a classified :class:`Decline` (soft: retry on the dunning
  schedule; hard: wait for a new payment method); record PaymentFailed.
* ``PENDING``: the provider accepted the charge but confirms asynchronously
  (Stripe ``processing``, Adyen ``Received``/``Pending``); record nothing, the
  webhook's confirmation records it.
* :class:`GatewayUnavailable`: timeout, connection error, 5xx, rate limit, a
  concurrent request with the same key. Nothing is known: the worker raises so
  Pub/Sub redelivers, and the retry sends the *same* idempotency key.

Every adapter sends ``charge_id`` as the provider's idempotency key, so a retry
after a crash gets the provider's stored answer instead of a second charge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from refrain.domain.declines import Decline
from refrain.domain.money import Money

__all__ = [
    "ChargeStatus",
    "GatewayCharge",
    "GatewayResult",
    "GatewayRouter",
    "GatewayUnavailable",
    "PaymentGateway",
    "RefundAnswer",
    "RefundCall",
    "RefundDeclined",
    "RefundGateway",
    "RefundStatus",
]


class GatewayUnavailable(Exception):
    """Transient: the outcome is unknown; retry later with the same idempotency key."""


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class GatewayCharge:
    """One off-session charge. ``charge_id`` is also the provider idempotency key."""

    charge_id: str
    subscription_id: str
    account_id: str
    amount: Money
    payment_method_ref: str | None
    billing_anchor: datetime
    attempt: int

    def metadata(self) -> dict[str, str]:
        """What the webhook mapping reads back from Stripe's payment_intent.* events."""
        return {
            "subscription_id": self.subscription_id,
            "charge_id": self.charge_id,
            "billing_anchor": self.billing_anchor.isoformat(),
            "attempt": str(self.attempt),
        }


@dataclass(frozen=True, slots=True)
class GatewayResult:
    status: ChargeStatus
    provider_ref: str | None = None
    decline: Decline | None = None
    replayed: bool = False  # the provider answered from its idempotency store

    def __post_init__(self) -> None:
        if (self.status is ChargeStatus.DECLINED) != (self.decline is not None):
            raise ValueError("a decline, and only a decline, carries a Decline")


class PaymentGateway(Protocol):
    name: str

    def charge(self, request: GatewayCharge) -> GatewayResult:
        """Charge once per ``request.charge_id``; raise GatewayUnavailable when unsure."""
        ...


@dataclass(frozen=True)
class GatewayRouter:
    """Which gateway charges a subscription, by its ``provider``.

    Locally every provider maps to the sandbox (``default``); in the cloud the
    map holds the Stripe and Adyen adapters.
    """

    gateways: Mapping[str, PaymentGateway]
    default: PaymentGateway | None = None

    def for_provider(self, provider: str) -> PaymentGateway:
        gateway = self.gateways.get(provider, self.default)
        if gateway is None:
            raise LookupError(f"no payment gateway for provider {provider!r}")
        return gateway


# -- refunds: the same gateways give money back (refrain.care.refunds) -------------------------


class RefundDeclined(Exception):
    """The provider refused the refund (nothing was refunded): its message, no secrets."""


class RefundStatus(StrEnum):
    SUCCEEDED = "succeeded"  # refunded now: credited from the answer
    PENDING = "pending"  # accepted; the provider's notification confirms it


@dataclass(frozen=True, slots=True)
class RefundCall:
    """One refund for a gateway. ``request_id`` makes its idempotency key."""

    payment_ref: str  # the provider's payment (PaymentIntent, Adyen pspReference)
    amount: Money
    request_id: str
    reason: str
    charge_id: str  # our charge id, as the invoice names it
    subscription_id: str

    @property
    def idempotency_key(self) -> str:
        return f"refund:{self.request_id}"


@dataclass(frozen=True, slots=True)
class RefundAnswer:
    refund_id: str
    status: RefundStatus
    refunded_total: Money | None = None  # the payment's refunded total, where the answer has it


@runtime_checkable
class RefundGateway(Protocol):
    def refund(self, call: RefundCall) -> RefundAnswer:
        """Refund once per ``call.idempotency_key``; raise GatewayUnavailable when unsure."""
        ...
