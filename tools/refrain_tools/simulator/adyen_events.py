"""Adyen NotificationRequestItems (unsigned; the sender signs), with simulated eventDate.

Our references (see refrain.providers.adyen_webhook): ``merchantReference`` is
``"{subscription_id}:checkout:{plan}:{market}:{account_id}"`` for the first payment
(``checkout_reference``: what it creates, under the HMAC) and our charge id
``"{subscription_id}:{anchor %Y%m%dT%H%M%SZ}:{attempt}"`` for renewals;
REFUND / CHARGEBACK point at the payment with ``originalReference``;
RECURRING_CONTRACT's merchantReference starts with the subscription id.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from refrain.domain.money import Money
from refrain.domain.provider_amounts import to_provider_amount
from refrain.providers.adyen_webhook import checkout_reference

ADYEN_MERCHANT_ACCOUNT = "RefrainECOM"
_psp_counter = itertools.count(1)


def adyen_item(
    event_code: str,
    *,
    at: datetime,
    merchant_reference: str,
    amount: Money,
    success: bool = True,
    psp_reference: str | None = None,
    original_reference: str | None = None,
    reason: str = "",
    additional: dict[str, str] | None = None,
    payment_method: str = "visa",
) -> dict[str, Any]:
    """One unsigned NotificationRequestItem (the sender adds hmacSignature)."""
    item: dict[str, Any] = {
        "additionalData": dict(additional or {}),
        "amount": {"currency": amount.currency, "value": to_provider_amount(amount, "adyen")},
        "eventCode": event_code,
        "eventDate": at.isoformat(),
        "merchantAccountCode": ADYEN_MERCHANT_ACCOUNT,
        "merchantReference": merchant_reference,
        "paymentMethod": payment_method,
        "pspReference": psp_reference or new_psp(),
        "reason": reason,
        "success": "true" if success else "false",
    }
    if original_reference:
        item["originalReference"] = original_reference
    return item


def new_psp() -> str:
    """A 16-character Adyen pspReference."""
    return f"PSP{next(_psp_counter):013d}"


def adyen_checkout(
    *,
    at: datetime,
    subscription_id: str,
    account_id: str,
    plan: str,
    market: str,
    amount: Money,
    email: str,
    locale: str,
    token: str = "OK_CARD",  # noqa: S107 - a test-card name, not a secret
    psp_reference: str | None = None,
) -> dict[str, Any]:
    """AUTHORISATION of the first payment; the card was tokenised for renewals."""
    return adyen_item(
        "AUTHORISATION",
        at=at,
        merchant_reference=checkout_reference(subscription_id, account_id, plan, market),
        amount=amount,
        psp_reference=psp_reference,
        additional={
            "metadata.locale": locale,
            "shopperEmail": email,
            "shopperReference": account_id,
            "recurringProcessingModel": "Subscription",
            "tokenization.storedPaymentMethodId": token,
            "tokenization.shopperReference": account_id,
            "tokenization.store.operationType": "created",
        },
    )


def adyen_renewal(
    *,
    at: datetime,
    reference: str,
    amount: Money,
    authorised: bool,
    refusal_reason: str | None = None,
    refusal_code: str | None = None,
    psp_reference: str | None = None,
) -> dict[str, Any]:
    """AUTHORISATION of a renewal (reference = our charge id); refused ones carry why."""
    extra = {"refusalReasonCode": refusal_code} if refusal_code else {}
    return adyen_item(
        "AUTHORISATION",
        at=at,
        merchant_reference=reference,
        amount=amount,
        success=authorised,
        psp_reference=psp_reference,
        reason="" if authorised else (refusal_reason or "Refused"),
        additional={"recurringProcessingModel": "Subscription", **extra},
    )


def adyen_refund(
    *,
    at: datetime,
    original_reference: str,
    merchant_reference: str,
    amount: Money,
    psp_reference: str | None = None,
) -> dict[str, Any]:
    """REFUND of a captured payment (originalReference = its pspReference; pspReference
    = the refund's own, as the refund request's answer gave it)."""
    return adyen_item(
        "REFUND",
        at=at,
        merchant_reference=merchant_reference,
        amount=amount,
        original_reference=original_reference,
        psp_reference=psp_reference,
    )


def adyen_chargeback(
    *,
    at: datetime,
    original_reference: str,
    merchant_reference: str,
    amount: Money,
    reason_code: str = "10.4",
    event_code: str = "CHARGEBACK",
    dispute_psp: str | None = None,
) -> dict[str, Any]:
    """CHARGEBACK: the shopper disputed; the funds are debited from the merchant.

    ``event_code`` another stage of the same dispute (NOTIFICATION_OF_CHARGEBACK,
    CHARGEBACK_REVERSED, SECOND_CHARGEBACK, ...); every stage shares ``dispute_psp``.
    """
    return adyen_item(
        event_code,
        at=at,
        merchant_reference=merchant_reference,
        amount=amount,
        original_reference=original_reference,
        psp_reference=dispute_psp,
        reason="Other Fraud-Card Absent Environment",
        additional={"chargebackReasonCode": reason_code, "chargebackSchemeCode": "visa"},
    )


def adyen_recurring_contract(
    *, at: datetime, merchant_reference: str, token: str, shopper_reference: str, currency: str
) -> dict[str, Any]:
    """RECURRING_CONTRACT: a (new) stored payment method; pspReference is the token."""
    return adyen_item(
        "RECURRING_CONTRACT",
        at=at,
        merchant_reference=merchant_reference,
        amount=Money(0, currency),
        psp_reference=token,
        additional={
            "recurring.recurringDetailReference": token,
            "recurring.shopperReference": shopper_reference,
            "shopperReference": shopper_reference,
        },
    )
