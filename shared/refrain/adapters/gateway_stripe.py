"""Stripe gateway: one PaymentIntent, created and confirmed off-session, per charge id.

``POST /v1/payment_intents`` with ``confirm=true, off_session=true``, the stored
customer and payment method, our ids in ``metadata`` (subscription_id,
charge_id, billing_anchor, attempt: what the webhook's payment_intent.* mapping
reads back) and ``Idempotency-Key: {charge_id}``: a retry after a timeout or a
crash gets Stripe's stored answer, never a second PaymentIntent.

Stored payment method ref: ``"{customer}:{payment_method}"`` (``cus_…:pm_…``),
captured from Stripe's own events (refrain.providers.stripe_payment_methods).
A ref with only the customer (no event named a card yet) is charged the
customer's ``invoice_settings.default_payment_method``, read with
``GET /v1/customers/{id}`` just before the charge, because Stripe does not fall
back to it for PaymentIntents; no default (or a deleted customer): hard decline.
(A retry of that charge reads the default again: should it have changed in
between, Stripe refuses the reused key and the charge goes to the dead letters.)

Answers: ``succeeded`` → SUCCEEDED; ``processing`` → PENDING (the webhook
confirms); 402 card errors → DECLINED classified from ``decline_code``/``code``;
``requires_action`` → DECLINED authentication_required (hard: the customer must
come back on-session). Connection errors, 5xx, 429, 409 (a concurrent request
with the same key) and auth/permission errors → GatewayUnavailable (retried, then
dead-lettered where an operator sees it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from refrain.domain.declines import Decline, DeclineCategory, classify_stripe, with_advice
from refrain.domain.provider_amounts import from_provider_amount, to_provider_amount
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

PROVIDER = "stripe"
TRANSIENT = (  # retried with the same idempotency key; never a decline
    stripe.APIConnectionError,
    stripe.APIError,
    stripe.RateLimitError,
    stripe.IdempotencyError,
    stripe.AuthenticationError,
    stripe.PermissionError,
)

_STRIPE_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def split_ref(ref: str | None) -> tuple[str | None, str | None]:
    """(customer, payment method) from ``cus_…:pm_…``, ``pm_…`` or ``cus_…``."""
    if not ref:
        return None, None
    if ":" in ref:
        customer, method = ref.split(":", 1)
        return customer or None, method or None
    return (ref, None) if ref.startswith("cus_") else (None, ref)


@dataclass
class StripeGateway:
    client: stripe.StripeClient
    name: str = PROVIDER

    @classmethod
    def create(
        cls, api_key: str, api_base: str | None = None, timeout_s: float = 20.0
    ) -> StripeGateway:
        # Retries are Pub/Sub's job (same key); the library's own retries would hide timeouts.
        client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else {},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout_s),
        )
        return cls(client)

    def charge(self, request: GatewayCharge) -> GatewayResult:
        customer, method = split_ref(request.payment_method_ref)
        try:
            if method is None and customer is not None:
                method = self.invoice_default(customer)
        except TRANSIENT as exc:
            raise GatewayUnavailable(f"stripe: {type(exc).__name__}: {exc}") from exc
        except stripe.InvalidRequestError as exc:  # e.g. the customer was deleted
            return GatewayResult(ChargeStatus.DECLINED, None, _hard(exc.code or "invalid_request"))
        if method is None:
            return GatewayResult(ChargeStatus.DECLINED, None, _hard("payment_method_missing"))
        params: dict[str, Any] = {
            "amount": to_provider_amount(request.amount, PROVIDER),
            "currency": request.amount.currency.lower(),
            "payment_method": method,
            "confirm": True,
            "off_session": True,
            "metadata": request.metadata(),
            "description": f"Renewal {request.charge_id}",
        }
        if customer:
            params["customer"] = customer
        try:
            intent = self.client.v1.payment_intents.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.charge_id},
            )
        except stripe.CardError as exc:
            return _declined(exc)
        except TRANSIENT as exc:
            raise GatewayUnavailable(f"stripe: {type(exc).__name__}: {exc}") from exc
        except stripe.InvalidRequestError as exc:
            # Stripe refuses the request itself (e.g. a detached payment method): permanent.
            return GatewayResult(ChargeStatus.DECLINED, None, _hard(exc.code or "invalid_request"))
        return _from_intent(intent.to_dict())

    def refund(self, call: RefundCall) -> RefundAnswer:
        """``POST /v1/refunds`` against the PaymentIntent (or charge), the charge expanded.

        The expanded charge's ``amount_refunded`` (pending refunds included) is the total
        the ledger credits up to, so the ``charge.refunded`` webhook for the same refund
        adds nothing. Stripe's ``reason`` takes only its three values; ours goes in metadata.
        """
        params: dict[str, Any] = {
            "amount": to_provider_amount(call.amount, PROVIDER),
            "metadata": {
                "charge_id": call.charge_id,
                "request_id": call.request_id,
                "refund_reason": call.reason[:500],
            },
            "expand": ["charge"],
        }
        params["charge" if call.payment_ref.startswith("ch_") else "payment_intent"] = (
            call.payment_ref
        )
        if call.reason in _STRIPE_REFUND_REASONS:
            params["reason"] = call.reason
        try:
            found = self.client.v1.refunds.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": call.idempotency_key},
            )
        except TRANSIENT as exc:
            raise GatewayUnavailable(f"stripe: {type(exc).__name__}: {exc}") from exc
        except stripe.InvalidRequestError as exc:  # e.g. charge_already_refunded
            raise RefundDeclined(f"stripe: {exc.code or 'invalid_request'}") from exc
        refund = found.to_dict()
        status = refund.get("status")
        if status in ("failed", "canceled"):
            raise RefundDeclined(f"stripe: refund {status}: {refund.get('failure_reason')}")
        charge = refund.get("charge")
        total = None
        if isinstance(charge, dict) and isinstance(charge.get("amount_refunded"), int):
            currency = str(charge.get("currency") or call.amount.currency).upper()
            total = from_provider_amount(charge["amount_refunded"], currency, PROVIDER)
        settled = RefundStatus.SUCCEEDED if total is not None else RefundStatus.PENDING
        return RefundAnswer(str(refund["id"]), settled, total)

    def invoice_default(self, customer: str) -> str | None:
        """The customer's invoice default payment method, as Stripe holds it now."""
        found = self.client.v1.customers.retrieve(customer).to_dict()
        default = (found.get("invoice_settings") or {}).get("default_payment_method")
        if isinstance(default, dict):  # expanded
            default = default.get("id")
        return default if isinstance(default, str) and default else None


def _hard(code: str) -> Decline:
    """Permanent: retrying the same request cannot succeed; wait for a new payment method."""
    return Decline(DeclineCategory.OTHER, True, code, PROVIDER)


def _from_intent(intent: dict[str, Any]) -> GatewayResult:
    status, ref = intent.get("status"), intent.get("id")
    if status in ("succeeded", "requires_capture"):
        return GatewayResult(ChargeStatus.SUCCEEDED, ref)
    if status == "processing":
        return GatewayResult(ChargeStatus.PENDING, ref)
    if status == "requires_action":
        return GatewayResult(ChargeStatus.DECLINED, ref, classify_stripe("authentication_required"))
    error = intent.get("last_payment_error") or {}
    decline = classify_stripe(error.get("code") or "card_declined", error.get("decline_code"))
    return GatewayResult(
        ChargeStatus.DECLINED, ref, with_advice(decline, error.get("network_advice_code"))
    )


def _declined(exc: stripe.CardError) -> GatewayResult:
    error = exc.error
    code = exc.code or (error.code if error else None)
    decline_code = error.decline_code if error else None
    found = error.payment_intent if error else None
    intent: dict[str, Any] | None = found.to_dict() if found is not None else None
    ref = intent.get("id") if intent else None
    advice = getattr(error, "network_advice_code", None) if error else None
    if intent is not None:
        last = intent.get("last_payment_error") or {}
        decline_code = decline_code or last.get("decline_code")
        advice = advice or last.get("network_advice_code")
    decline = with_advice(classify_stripe(code, decline_code), advice)
    return GatewayResult(ChargeStatus.DECLINED, ref, decline)
