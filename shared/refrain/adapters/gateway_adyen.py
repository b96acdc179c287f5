"""Adyen gateway: Checkout ``/payments`` with the stored payment method, once per charge id.

Request: the stored ``storedPaymentMethodId`` and the ``shopperReference`` it
was stored under (our payment_method_ref ``"{shopperReference}:{token}"``, from
the checkout's tokenization or RECURRING_CONTRACT; a bare token is charged with
the account id as shopper reference),
``shopperInteraction: ContAuth``, ``recurringProcessingModel: Subscription``,
``reference`` = our charge id (the webhook's AUTHORISATION mapping reads it back
as merchantReference) and ``Idempotency-Key: {charge_id}`` through the library's
``idempotency_key`` argument.

Answers: ``Authorised`` → SUCCEEDED; ``Refused`` / ``Cancelled`` → DECLINED,
classified from ``refusalReasonCode`` then ``refusalReason``; ``Received`` /
``Pending`` → PENDING (the AUTHORISATION webhook confirms); ``Error`` and
connection errors, timeouts, 401/403/404/429/5xx → GatewayUnavailable;
400/422 validation errors (the request can never succeed, e.g. an unknown token)
→ DECLINED hard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import Adyen
import requests
from Adyen.exceptions import AdyenAPIResponseError, AdyenError

from refrain.domain.declines import Decline, DeclineCategory, classify_adyen, with_advice
from refrain.domain.provider_amounts import to_provider_amount
from refrain.renewals.gateway import (
    ChargeStatus,
    GatewayCharge,
    GatewayResult,
    GatewayUnavailable,
    RefundAnswer,
    RefundCall,
    RefundDeclined,
    RefundStatus,
)

PROVIDER = "adyen"
CHECKOUT_VERSION = "v71"


@dataclass
class AdyenGateway:
    adyen: Any  # Adyen.Adyen (the library ships no type information)
    merchant_account: str
    name: str = PROVIDER

    @classmethod
    def create(
        cls,
        api_key: str,
        merchant_account: str,
        *,
        checkout_url: str | None = None,
        live_prefix: str | None = None,
        timeout_s: int = 20,
    ) -> AdyenGateway:
        """``checkout_url``: base without version, e.g. a local test server's address."""
        adyen = Adyen.Adyen(
            xapikey=api_key,
            platform="live" if live_prefix else "test",
            live_endpoint_prefix=live_prefix,
            http_timeout=timeout_s,
        )
        if checkout_url:
            base = f"{checkout_url.rstrip('/')}/{CHECKOUT_VERSION}"
            adyen.checkout.payments_api.baseUrl = base
            adyen.checkout.modifications_api.baseUrl = base
        return cls(adyen, merchant_account)

    def charge(self, request: GatewayCharge) -> GatewayResult:
        shopper, token = split_ref(request.payment_method_ref)
        if not token:
            return GatewayResult(ChargeStatus.DECLINED, None, _hard("no stored payment method"))
        body = {
            "amount": {
                "value": to_provider_amount(request.amount, PROVIDER),
                "currency": request.amount.currency,
            },
            "reference": request.charge_id,
            "merchantAccount": self.merchant_account,
            "paymentMethod": {
                "type": "scheme",
                "storedPaymentMethodId": token,
            },
            "shopperReference": shopper or request.account_id,
            "shopperInteraction": "ContAuth",
            "recurringProcessingModel": "Subscription",
            "metadata": request.metadata(),
        }
        try:
            result = self.adyen.checkout.payments_api.payments(
                body, idempotency_key=request.charge_id
            )
        except requests.RequestException as exc:
            raise GatewayUnavailable(f"adyen: {type(exc).__name__}") from exc
        except AdyenAPIResponseError as exc:
            return _http_error(exc)
        except AdyenError as exc:
            raise GatewayUnavailable(f"adyen: {type(exc).__name__}") from exc
        return _from_response(dict(result.message or {}))

    def refund(self, call: RefundCall) -> RefundAnswer:
        """``POST /payments/{psp}/refunds``: Adyen answers ``received``; REFUND confirms it.

        The REFUND notification returns ``reference`` as its merchantReference, which
        names the subscription first (refrain.providers.adyen_webhook): a renewal's own
        charge id (so its credit note finds the renewal's invoice), else
        ``{subscription}:refund:{request}`` (a checkout's invoice is the payment's psp).
        """
        reference = call.charge_id
        if not reference.startswith(f"{call.subscription_id}:"):
            reference = f"{call.subscription_id}:refund:{call.request_id}"
        body = {
            "merchantAccount": self.merchant_account,
            "amount": {
                "value": to_provider_amount(call.amount, PROVIDER),
                "currency": call.amount.currency,
            },
            "reference": reference,
        }
        try:
            result = self.adyen.checkout.modifications_api.refund_captured_payment(
                body, call.payment_ref, idempotency_key=call.idempotency_key
            )
        except requests.RequestException as exc:
            raise GatewayUnavailable(f"adyen: {type(exc).__name__}") from exc
        except AdyenAPIResponseError as exc:
            status = getattr(exc, "status_code", None)
            if status in (400, 404, 422):
                code = getattr(exc, "error_code", None)
                raise RefundDeclined(f"adyen: HTTP {status} {code}") from exc
            raise GatewayUnavailable(f"adyen: HTTP {status}") from exc
        except AdyenError as exc:
            raise GatewayUnavailable(f"adyen: {type(exc).__name__}") from exc
        answer = dict(result.message or {})
        if answer.get("status") != "received" or not answer.get("pspReference"):
            raise GatewayUnavailable(f"adyen: refund status {answer.get('status')!r}")
        return RefundAnswer(str(answer["pspReference"]), RefundStatus.PENDING)


def split_ref(ref: str | None) -> tuple[str | None, str | None]:
    """(shopper reference, token): a token has no ``:``, a shopper reference may."""
    if not ref:
        return None, None
    shopper, _, token = ref.rpartition(":")
    return shopper or None, token or None


def _hard(reason: str) -> Decline:
    return Decline(DeclineCategory.OTHER, True, reason, PROVIDER)


def _http_error(exc: AdyenAPIResponseError) -> GatewayResult:
    status = getattr(exc, "status_code", None)
    if status in (400, 422):
        code = getattr(exc, "error_code", None)
        return GatewayResult(ChargeStatus.DECLINED, None, _hard(f"validation {code}"))
    raise GatewayUnavailable(f"adyen: HTTP {status}") from exc


def _from_response(body: dict[str, Any]) -> GatewayResult:
    code, psp = body.get("resultCode"), body.get("pspReference")
    if code == "Authorised":
        return GatewayResult(ChargeStatus.SUCCEEDED, psp)
    if code in ("Received", "Pending"):
        return GatewayResult(ChargeStatus.PENDING, psp)
    if code in ("Refused", "Cancelled"):
        extra = body.get("additionalData") or {}
        reason_code = body.get("refusalReasonCode") or extra.get("refusalReasonCode")
        decline = classify_adyen(body.get("refusalReason"), reason_code)
        decline = with_advice(decline, extra.get("merchantAdviceCode"))  # Mastercard's
        return GatewayResult(ChargeStatus.DECLINED, psp, decline)
    raise GatewayUnavailable(f"adyen: resultCode {code!r}")
