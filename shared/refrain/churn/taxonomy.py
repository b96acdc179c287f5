"""The versioned churn-signal taxonomy and its closed reason vocabularies.

A signal is one lifecycle change, named for what a churn model cares about
rather than for how the state machine implements it. Every value that can
reach BigQuery is one of the enums below, never free text: provider reason
strings (Stripe's cancellation comment, for one) may carry personal data, so
anything outside a vocabulary becomes ``other``.

Bump :data:`TAXONOMY_VERSION` (stored in every row as ``schema_version``)
when a meaning changes; adding a value is backwards compatible, renaming or
re-purposing one is not.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, TypeVar

__all__ = [
    "TAXONOMY_VERSION",
    "CancelReason",
    "ChurnType",
    "DeclineCategory",
    "DisputeReason",
    "RefundReason",
    "SignalType",
    "normalize",
]

TAXONOMY_VERSION: Final = 1


class SignalType(StrEnum):
    ACTIVATED = "activated"  # first paid period (from_trial says a trial converted)
    REACTIVATED = "reactivated"  # access restored after an account hold (was suspended)
    RENEWED = "renewed"
    PAYMENT_FAILED = "payment_failed"  # first failed charge of a billing period
    DUNNING_RETRY = "dunning_retry"  # a later automatic retry of that period failed too
    ENTERED_GRACE = "entered_grace"  # past due, access kept
    ON_HOLD = "on_hold"  # grace over, access suspended, still retrying
    RECOVERED = "recovered"  # paid during grace, access never lost
    CANCEL_REQUESTED = "cancel_requested"  # voluntary, with reason
    CANCEL_REVERTED = "cancel_reverted"
    PLAN_CHANGED = "plan_changed"  # direction: upgrade | downgrade
    PAUSED = "paused"
    RESUMED = "resumed"
    REFUNDED = "refunded"
    CHARGEBACK = "chargeback"
    DISPUTE_WON = "dispute_won"  # the money came back (access too, if the dispute ended it)
    DISPUTE_LOST = "dispute_lost"  # the money is the cardholder's; the card is dropped
    EXPIRED = "expired"  # churn_type: voluntary | involuntary | revoked


class ChurnType(StrEnum):
    VOLUNTARY = "voluntary"
    INVOLUNTARY = "involuntary"
    REVOKED = "revoked"


class CancelReason(StrEnum):
    """Why a customer (or the system on their behalf) ended the subscription."""

    TOO_EXPENSIVE = "too_expensive"
    PRICE_INCREASE = "price_increase"  # declined a price increase
    NOT_USING = "not_using"
    MISSING_FEATURES = "missing_features"
    QUALITY_ISSUES = "quality_issues"
    TECHNICAL_ISSUES = "technical_issues"
    SWITCHED_SERVICE = "switched_service"
    CUSTOMER_SERVICE = "customer_service"
    TOO_COMPLEX = "too_complex"
    CUSTOMER_REQUEST = "customer_request"  # cancelled, no reason given
    BILLING_FAILURE = "billing_failure"  # involuntary: payment could not be collected
    PAYMENT_DISPUTED = "payment_disputed"
    PRODUCT_UNAVAILABLE = "product_unavailable"
    REPLACED = "replaced"  # ended because a new subscription replaced it
    MERCHANT_INITIATED = "merchant_initiated"  # we (developer/operator) cancelled
    REFUNDED = "refunded"  # access revoked with a refund
    OTHER = "other"
    UNKNOWN = "unknown"


class RefundReason(StrEnum):
    REQUESTED_BY_CUSTOMER = "requested_by_customer"
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    OTHER = "other"


class DisputeReason(StrEnum):
    FRAUDULENT = "fraudulent"
    SUBSCRIPTION_CANCELED = "subscription_canceled"
    PRODUCT_NOT_RECEIVED = "product_not_received"
    PRODUCT_UNACCEPTABLE = "product_unacceptable"
    DUPLICATE = "duplicate"
    CREDIT_NOT_PROCESSED = "credit_not_processed"
    UNRECOGNIZED = "unrecognized"
    GENERAL = "general"
    OTHER = "other"


class DeclineCategory(StrEnum):
    """Mirror of :class:`refrain.domain.DeclineCategory` (a unit test keeps them equal)."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    FRAUD_OR_STOLEN = "fraud_or_stolen"
    DO_NOT_HONOR = "do_not_honor"
    AUTHENTICATION_REQUIRED = "authentication_required"
    PROCESSING_ERROR = "processing_error"
    OTHER = "other"


E = TypeVar("E", bound=StrEnum)


def normalize(vocabulary: type[E], value: object, fallback: E) -> E | None:
    """A vocabulary member for ``value``; None stays None, anything unknown is ``fallback``.

    Free text never passes: only exact (case-folded, trimmed) vocabulary values do.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        return fallback
    key = value.strip().lower()
    if not key:
        return None
    try:
        return vocabulary(key)
    except ValueError:
        return fallback
