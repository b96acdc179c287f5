"""Provider reasons -> the taxonomy's reason vocabulary (pure; for the webhook adapters).

The webhook engineers call these while building state-machine inputs
(``CancelRequested.reason``, ``ProviderStateReported.cancel_reason`` /
``churn_type``), so the domain events already carry vocabulary values. The
exporter normalises again (:func:`refrain.churn.taxonomy.normalize`) because
a reason field is a free string in the domain.

Free-text fields are never read: Stripe's ``cancellation_details.comment``
and Google Play's ``cancelSurveyResult.reasonUserInput`` are what a customer
typed and may hold personal data.

Sources: Stripe ``Subscription.cancellation_details`` (``reason``,
``feedback``), Stripe ``Refund.reason`` and ``Dispute.reason``; Apple
``JWSRenewalInfoDecodedPayload.expirationIntent`` and
``JWSTransactionDecodedPayload.revocationReason``; Google Play
``SubscriptionPurchaseV2.canceledStateContext`` (and the v1 ``cancelReason``
/ ``cancelSurveyResult.cancelSurveyReason`` integers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from refrain.churn.taxonomy import CancelReason, ChurnType, DisputeReason, RefundReason

__all__ = [
    "ChurnReason",
    "apple_expiration_intent",
    "apple_revocation_reason",
    "google_play_cancel_reason_v1",
    "google_play_canceled_state",
    "stripe_cancellation",
    "stripe_dispute_reason",
    "stripe_refund_reason",
]

_R = CancelReason


@dataclass(frozen=True, slots=True)
class ChurnReason:
    """A reason and, when the provider tells us, whether the churn was the customer's choice.

    ``churn_type`` None means "the provider does not say": the state machine then
    decides from the subscription's state (in dunning -> involuntary).
    """

    reason: CancelReason
    churn_type: ChurnType | None


# Stripe ------------------------------------------------------------------------

STRIPE_FEEDBACK: Final[dict[str, CancelReason]] = {
    "too_expensive": _R.TOO_EXPENSIVE,
    "unused": _R.NOT_USING,
    "missing_features": _R.MISSING_FEATURES,
    "low_quality": _R.QUALITY_ISSUES,
    "switched_service": _R.SWITCHED_SERVICE,
    "customer_service": _R.CUSTOMER_SERVICE,
    "too_complex": _R.TOO_COMPLEX,
    "other": _R.OTHER,
}
STRIPE_REASON: Final[dict[str, ChurnReason]] = {
    "cancellation_requested": ChurnReason(_R.CUSTOMER_REQUEST, ChurnType.VOLUNTARY),
    "payment_failed": ChurnReason(_R.BILLING_FAILURE, ChurnType.INVOLUNTARY),
    "payment_disputed": ChurnReason(_R.PAYMENT_DISPUTED, ChurnType.REVOKED),
}


def stripe_cancellation(details: Mapping[str, Any] | None) -> ChurnReason:
    """``cancellation_details``: the customer's ``feedback`` is the why, ``reason`` the how."""
    details = details or {}
    why = STRIPE_REASON.get(_key(details.get("reason")) or "", ChurnReason(_R.UNKNOWN, None))
    feedback = _key(details.get("feedback"))
    if feedback:
        return ChurnReason(STRIPE_FEEDBACK.get(feedback, _R.OTHER), why.churn_type)
    return why


STRIPE_REFUND: Final[dict[str, RefundReason]] = {
    "requested_by_customer": RefundReason.REQUESTED_BY_CUSTOMER,
    "duplicate": RefundReason.DUPLICATE,
    "fraudulent": RefundReason.FRAUDULENT,
}


def stripe_refund_reason(reason: str | None) -> RefundReason | None:
    key = _key(reason)
    return None if key is None else STRIPE_REFUND.get(key, RefundReason.OTHER)


STRIPE_DISPUTE: Final[dict[str, DisputeReason]] = {
    "fraudulent": DisputeReason.FRAUDULENT,
    "debit_not_authorized": DisputeReason.FRAUDULENT,
    "subscription_canceled": DisputeReason.SUBSCRIPTION_CANCELED,
    "product_not_received": DisputeReason.PRODUCT_NOT_RECEIVED,
    "product_unacceptable": DisputeReason.PRODUCT_UNACCEPTABLE,
    "duplicate": DisputeReason.DUPLICATE,
    "credit_not_processed": DisputeReason.CREDIT_NOT_PROCESSED,
    "unrecognized": DisputeReason.UNRECOGNIZED,
    "general": DisputeReason.GENERAL,
}


def stripe_dispute_reason(reason: str | None) -> DisputeReason | None:
    key = _key(reason)
    return None if key is None else STRIPE_DISPUTE.get(key, DisputeReason.OTHER)


# Apple -------------------------------------------------------------------------

APPLE_EXPIRATION_INTENT: Final[dict[int, ChurnReason]] = {
    1: ChurnReason(_R.CUSTOMER_REQUEST, ChurnType.VOLUNTARY),  # customer cancelled
    2: ChurnReason(_R.BILLING_FAILURE, ChurnType.INVOLUNTARY),  # billing error
    3: ChurnReason(_R.PRICE_INCREASE, ChurnType.VOLUNTARY),  # did not consent to a price rise
    4: ChurnReason(_R.PRODUCT_UNAVAILABLE, ChurnType.INVOLUNTARY),  # not for sale at renewal
    5: ChurnReason(_R.OTHER, None),  # "other"
}


def apple_expiration_intent(intent: int | str | None) -> ChurnReason:
    """``expirationIntent`` from the decoded renewal info (1..5; absent while renewing)."""
    try:
        value = int(intent) if intent is not None else None
    except (TypeError, ValueError):
        value = None
    if value is None:
        return ChurnReason(_R.UNKNOWN, None)
    return APPLE_EXPIRATION_INTENT.get(value, ChurnReason(_R.OTHER, None))


def apple_revocation_reason(reason: int | str | None) -> RefundReason | None:
    """``revocationReason`` on a refunded transaction: 1 = an issue in the app, 0 = other."""
    if reason is None:
        return None
    return RefundReason.REQUESTED_BY_CUSTOMER if str(reason).strip() == "1" else RefundReason.OTHER


# Google Play -------------------------------------------------------------------

GOOGLE_SURVEY: Final[dict[str, CancelReason]] = {
    "CANCEL_SURVEY_REASON_NOT_ENOUGH_USAGE": _R.NOT_USING,
    "CANCEL_SURVEY_REASON_TECHNICAL_ISSUES": _R.TECHNICAL_ISSUES,
    "CANCEL_SURVEY_REASON_COST_RELATED": _R.TOO_EXPENSIVE,
    "CANCEL_SURVEY_REASON_FOUND_BETTER_APP": _R.SWITCHED_SERVICE,
    "CANCEL_SURVEY_REASON_OTHERS": _R.OTHER,
    "CANCEL_SURVEY_REASON_UNSPECIFIED": _R.CUSTOMER_REQUEST,
}
GOOGLE_SURVEY_V1: Final[dict[int, CancelReason]] = {
    0: _R.OTHER, 1: _R.NOT_USING, 2: _R.TECHNICAL_ISSUES, 3: _R.TOO_EXPENSIVE,
    4: _R.SWITCHED_SERVICE,
}  # fmt: skip


def google_play_canceled_state(context: Mapping[str, Any] | None) -> ChurnReason:
    """``canceledStateContext`` (subscriptionsv2): which party cancelled, and the survey."""
    if not context:
        return ChurnReason(_R.UNKNOWN, None)
    if "userInitiatedCancellation" in context:
        user = context.get("userInitiatedCancellation") or {}
        survey = user.get("cancelSurveyResult") or {}
        reason = GOOGLE_SURVEY.get(str(survey.get("reason", "")), _R.CUSTOMER_REQUEST)
        return ChurnReason(reason, ChurnType.VOLUNTARY)
    if "systemInitiatedCancellation" in context:
        return ChurnReason(_R.BILLING_FAILURE, ChurnType.INVOLUNTARY)
    if "developerInitiatedCancellation" in context:
        return ChurnReason(_R.MERCHANT_INITIATED, None)
    if "replacementCancellation" in context:
        return ChurnReason(_R.REPLACED, None)
    return ChurnReason(_R.OTHER, None)


def google_play_cancel_reason_v1(
    cancel_reason: int | None, survey_reason: int | None = None
) -> ChurnReason:
    """v1 ``SubscriptionPurchase.cancelReason`` (0 user, 1 system, 2 replaced, 3 developer)."""
    if cancel_reason == 0:
        if survey_reason is None:
            return ChurnReason(_R.CUSTOMER_REQUEST, ChurnType.VOLUNTARY)
        return ChurnReason(GOOGLE_SURVEY_V1.get(survey_reason, _R.OTHER), ChurnType.VOLUNTARY)
    if cancel_reason == 1:
        return ChurnReason(_R.BILLING_FAILURE, ChurnType.INVOLUNTARY)
    if cancel_reason == 2:
        return ChurnReason(_R.REPLACED, None)
    if cancel_reason == 3:
        return ChurnReason(_R.MERCHANT_INITIATED, None)
    return ChurnReason(_R.UNKNOWN, None)


def _key(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()
