"""Decline classification: provider codes -> a category and soft/hard.

A *soft* decline may succeed on a later automatic retry (no money today,
issuer hiccup); a *hard* decline will not until the customer does something
(new card, 3-D Secure on-session, card reported stolen), so dunning stops
retrying until the payment method is updated. Unknown codes are soft
``other``: the retry schedule is bounded anyway, and stopping retries on a
code we have not seen would churn customers for our own ignorance.

Stripe: ``decline_code`` wins over the error ``code`` (``card_declined`` only
says "look at decline_code"). Adyen: ``refusalReasonCode`` wins over the
free-text ``refusalReason``, which is matched case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

__all__ = ["Decline", "DeclineCategory", "classify_adyen", "classify_stripe", "with_advice"]


class DeclineCategory(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    FRAUD_OR_STOLEN = "fraud_or_stolen"
    DO_NOT_HONOR = "do_not_honor"
    AUTHENTICATION_REQUIRED = "authentication_required"
    PROCESSING_ERROR = "processing_error"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Decline:
    category: DeclineCategory
    hard: bool
    code: str | None = None
    provider: str | None = None
    # What the card network said, when the gateway passes it on: Visa's decline
    # category (1 never approve .. 4 generic) and Mastercard's merchant advice code
    # ("03"/"21": do not try again). refrain.domain.retry enforces both.
    network_category: int | None = None
    advice_code: str | None = None

    @property
    def soft(self) -> bool:
        return not self.hard


_C = DeclineCategory
SOFT, HARD = False, True

STRIPE_CODES: Final[dict[str, tuple[DeclineCategory, bool]]] = {
    # money: retry later, usually around payday
    "insufficient_funds": (_C.INSUFFICIENT_FUNDS, SOFT),
    "card_velocity_exceeded": (_C.INSUFFICIENT_FUNDS, SOFT),
    "withdrawal_count_limit_exceeded": (_C.INSUFFICIENT_FUNDS, SOFT),
    # the card itself is gone
    "expired_card": (_C.EXPIRED_CARD, HARD),
    "incorrect_number": (_C.OTHER, HARD),
    "invalid_number": (_C.OTHER, HARD),
    "invalid_expiry_month": (_C.EXPIRED_CARD, HARD),
    "invalid_expiry_year": (_C.EXPIRED_CARD, HARD),
    "incorrect_cvc": (_C.OTHER, HARD),
    "invalid_cvc": (_C.OTHER, HARD),
    "new_account_information_available": (_C.EXPIRED_CARD, HARD),
    # fraud, lost, stolen: never retry, never tell the customer why
    "stolen_card": (_C.FRAUD_OR_STOLEN, HARD),
    "lost_card": (_C.FRAUD_OR_STOLEN, HARD),
    "fraudulent": (_C.FRAUD_OR_STOLEN, HARD),
    "pickup_card": (_C.FRAUD_OR_STOLEN, HARD),
    "restricted_card": (_C.FRAUD_OR_STOLEN, HARD),
    "merchant_blacklist": (_C.FRAUD_OR_STOLEN, HARD),
    "security_violation": (_C.FRAUD_OR_STOLEN, HARD),
    # issuer says no
    "do_not_honor": (_C.DO_NOT_HONOR, SOFT),
    "call_issuer": (_C.DO_NOT_HONOR, SOFT),
    "no_action_taken": (_C.DO_NOT_HONOR, SOFT),
    "do_not_try_again": (_C.DO_NOT_HONOR, HARD),
    "revocation_of_authorization": (_C.DO_NOT_HONOR, HARD),
    "revocation_of_all_authorizations": (_C.DO_NOT_HONOR, HARD),
    "stop_payment_order": (_C.DO_NOT_HONOR, HARD),
    "transaction_not_allowed": (_C.DO_NOT_HONOR, HARD),
    "not_permitted": (_C.DO_NOT_HONOR, HARD),
    "service_not_allowed": (_C.DO_NOT_HONOR, HARD),
    "card_not_supported": (_C.OTHER, HARD),
    "currency_not_supported": (_C.OTHER, HARD),
    "invalid_account": (_C.OTHER, HARD),
    "invalid_amount": (_C.OTHER, HARD),
    # off-session renewal needs the customer on-session for SCA
    "authentication_required": (_C.AUTHENTICATION_REQUIRED, HARD),
    "authentication_not_handled": (_C.AUTHENTICATION_REQUIRED, HARD),
    "offline_pin_required": (_C.AUTHENTICATION_REQUIRED, HARD),
    "online_or_offline_pin_required": (_C.AUTHENTICATION_REQUIRED, HARD),
    # plumbing: retry
    "try_again_later": (_C.PROCESSING_ERROR, SOFT),
    "processing_error": (_C.PROCESSING_ERROR, SOFT),
    "issuer_not_available": (_C.PROCESSING_ERROR, SOFT),
    "reenter_transaction": (_C.PROCESSING_ERROR, SOFT),
    "approve_with_id": (_C.PROCESSING_ERROR, SOFT),
    "duplicate_transaction": (_C.OTHER, SOFT),
    "generic_decline": (_C.OTHER, SOFT),
    "card_declined": (_C.OTHER, SOFT),
}

ADYEN_REASONS: Final[dict[str, tuple[DeclineCategory, bool]]] = {
    "refused": (_C.OTHER, SOFT),
    "referral": (_C.DO_NOT_HONOR, SOFT),
    "acquirer error": (_C.PROCESSING_ERROR, SOFT),
    "blocked card": (_C.FRAUD_OR_STOLEN, HARD),
    "expired card": (_C.EXPIRED_CARD, HARD),
    "invalid amount": (_C.OTHER, HARD),
    "invalid card number": (_C.OTHER, HARD),
    "issuer unavailable": (_C.PROCESSING_ERROR, SOFT),
    "not supported": (_C.OTHER, HARD),
    "3d not authenticated": (_C.AUTHENTICATION_REQUIRED, HARD),
    "not enough balance": (_C.INSUFFICIENT_FUNDS, SOFT),
    "acquirer fraud": (_C.FRAUD_OR_STOLEN, HARD),
    "cancelled": (_C.OTHER, SOFT),
    "shopper cancelled": (_C.OTHER, HARD),
    "invalid pin": (_C.AUTHENTICATION_REQUIRED, HARD),
    "pin tries exceeded": (_C.AUTHENTICATION_REQUIRED, HARD),
    "pin validation not possible": (_C.AUTHENTICATION_REQUIRED, SOFT),
    "fraud": (_C.FRAUD_OR_STOLEN, HARD),
    "not submitted": (_C.PROCESSING_ERROR, SOFT),
    "fraud-cancelled": (_C.FRAUD_OR_STOLEN, HARD),
    "transaction not permitted": (_C.DO_NOT_HONOR, HARD),
    "cvc declined": (_C.OTHER, HARD),
    "restricted card": (_C.FRAUD_OR_STOLEN, HARD),
    "revocation of auth": (_C.DO_NOT_HONOR, HARD),
    "declined non generic": (_C.DO_NOT_HONOR, SOFT),
    "withdrawal amount exceeded": (_C.INSUFFICIENT_FUNDS, SOFT),
    "withdrawal count exceeded": (_C.INSUFFICIENT_FUNDS, SOFT),
    "issuer suspected fraud": (_C.FRAUD_OR_STOLEN, HARD),
    "avs declined": (_C.OTHER, HARD),
    "card requires online pin": (_C.AUTHENTICATION_REQUIRED, HARD),
    "no checking account available on card": (_C.OTHER, HARD),
    "no savings account available on card": (_C.OTHER, HARD),
    "mobile pin required": (_C.AUTHENTICATION_REQUIRED, HARD),
    "contactless fallback": (_C.AUTHENTICATION_REQUIRED, HARD),
    "authentication required": (_C.AUTHENTICATION_REQUIRED, HARD),
    "rreq not received from ds": (_C.AUTHENTICATION_REQUIRED, SOFT),
    "current aid is in penalty box": (_C.PROCESSING_ERROR, SOFT),
    "cvm required restart payment": (_C.AUTHENTICATION_REQUIRED, HARD),
    "3ds authentication error": (_C.AUTHENTICATION_REQUIRED, SOFT),
    "online pin required": (_C.AUTHENTICATION_REQUIRED, HARD),
    "try another interface": (_C.PROCESSING_ERROR, SOFT),
    "chip downgrade mode": (_C.PROCESSING_ERROR, SOFT),
    "transaction blocked by adyen to prevent excessive retry fees": (_C.DO_NOT_HONOR, HARD),
    # raw acquirer wording seen in refusalReasonRaw / some refusalReason values
    "stolen card": (_C.FRAUD_OR_STOLEN, HARD),
    "lost card": (_C.FRAUD_OR_STOLEN, HARD),
    "do not honor": (_C.DO_NOT_HONOR, SOFT),
}

# Adyen refusalReasonCode -> the reason it stands for (Adyen's refusal reasons table).
ADYEN_CODES: Final[dict[str, str]] = {
    "2": "refused", "3": "referral", "4": "acquirer error", "5": "blocked card",
    "6": "expired card", "7": "invalid amount", "8": "invalid card number",
    "9": "issuer unavailable", "10": "not supported", "11": "3d not authenticated",
    "12": "not enough balance", "14": "acquirer fraud", "15": "cancelled",
    "16": "shopper cancelled", "17": "invalid pin", "18": "pin tries exceeded",
    "19": "pin validation not possible", "20": "fraud", "21": "not submitted",
    "22": "fraud-cancelled", "23": "transaction not permitted", "24": "cvc declined",
    "25": "restricted card", "26": "revocation of auth", "27": "declined non generic",
    "28": "withdrawal amount exceeded", "29": "withdrawal count exceeded",
    "31": "issuer suspected fraud", "32": "avs declined", "33": "card requires online pin",
    "34": "no checking account available on card", "35": "no savings account available on card",
    "36": "mobile pin required", "37": "contactless fallback", "38": "authentication required",
    "39": "rreq not received from ds", "40": "current aid is in penalty box",
    "41": "cvm required restart payment", "42": "3ds authentication error",
    "43": "online pin required", "44": "try another interface", "45": "chip downgrade mode",
    "46": "transaction blocked by adyen to prevent excessive retry fees",
}  # fmt: skip


def classify_stripe(code: str | None, decline_code: str | None = None) -> Decline:
    """Classify a Stripe ``last_payment_error`` (``code`` and ``decline_code``)."""
    key = (decline_code or code or "").strip().lower()
    if key in STRIPE_CODES:
        category, hard = STRIPE_CODES[key]
        return Decline(category, hard, key, "stripe")
    return Decline(DeclineCategory.OTHER, False, key or None, "stripe")


def classify_adyen(
    refusal_reason: str | None, refusal_reason_code: str | int | None = None
) -> Decline:
    """Classify an Adyen refusal (``refusalReason`` text, ``refusalReasonCode``)."""
    if refusal_reason_code is not None:
        reason = ADYEN_CODES.get(str(refusal_reason_code).strip())
        if reason is not None:
            category, hard = ADYEN_REASONS[reason]
            return Decline(category, hard, reason, "adyen")
    if refusal_reason:
        key = " ".join(refusal_reason.strip().lower().split())
        if key in ADYEN_REASONS:
            category, hard = ADYEN_REASONS[key]
            return Decline(category, hard, key, "adyen")
    shown = (refusal_reason or "").strip().lower() or None
    return Decline(DeclineCategory.OTHER, False, shown, "adyen")


_ADVICE = re.compile(r"^\s*(\d{2})\b")


def with_advice(decline: Decline, advice: object) -> Decline:
    """The decline with the network's merchant advice code, when the gateway passed one:
    Stripe's ``network_advice_code`` ("03"), Adyen's ``merchantAdviceCode``
    ("03: Do not try again"). Anything else leaves the decline as it is."""
    found = _ADVICE.match(advice) if isinstance(advice, str) else None
    return replace(decline, advice_code=found.group(1)) if found else decline
