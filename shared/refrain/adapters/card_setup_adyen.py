"""Adyen card updates: a zero-amount Checkout session (``POST /{version}/sessions``).

``amount`` 0 in the subscription's currency (a card verification, no money),
``shopperReference`` the card is stored under (the stored ref's, else the account id,
as Refrain's checkout stores it), ``storePaymentMethod: true``,
``recurringProcessingModel: Subscription``, ``shopperInteraction: Ecommerce``,
``reference`` naming the subscription (refrain.account.payment_method
.card_update_reference: the webhook's AUTHORISATION and RECURRING_CONTRACT mappings read
it back) and the idempotency key through the library's ``idempotency_key``.
Answer: ``id`` and ``sessionData`` for Drop-in, and ``expiresAt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from Adyen.exceptions import AdyenAPIResponseError, AdyenError

from refrain.account.payment_method import (
    CardSetupRefused,
    CardSetupRequest,
    CardSetupSession,
    CardSetupUnavailable,
    card_update_reference,
)
from refrain.adapters.gateway_adyen import AdyenGateway, split_ref


@dataclass
class AdyenCardSetup:
    adyen: Any  # Adyen.Adyen (the library ships no type information)
    merchant_account: str
    return_url: str

    @classmethod
    def create(
        cls, api_key: str, merchant_account: str, return_url: str, *,
        checkout_url: str | None = None, live_prefix: str | None = None, timeout_s: int = 10,
    ) -> AdyenCardSetup:  # fmt: skip
        adyen = AdyenGateway.create(
            api_key, merchant_account, checkout_url=checkout_url, live_prefix=live_prefix,
            timeout_s=timeout_s,
        ).adyen  # fmt: skip
        return cls(adyen, merchant_account, return_url)

    def start(self, request: CardSetupRequest) -> CardSetupSession:
        shopper, _ = split_ref(request.payment_method_ref)
        body = {
            "merchantAccount": self.merchant_account,
            "amount": {"value": 0, "currency": request.currency},
            "reference": card_update_reference(request.subscription_id, request.idempotency_key),
            "returnUrl": self.return_url,
            "countryCode": request.market,
            "shopperReference": shopper or request.account_id,
            "shopperInteraction": "Ecommerce",
            "recurringProcessingModel": "Subscription",
            "storePaymentMethod": True,
        }
        try:
            result = self.adyen.checkout.payments_api.sessions(
                body, idempotency_key=request.idempotency_key
            )
        except requests.RequestException as exc:
            raise CardSetupUnavailable(f"adyen: {type(exc).__name__}") from exc
        except AdyenAPIResponseError as exc:
            status = getattr(exc, "status_code", None)
            if status in (400, 422):
                code = getattr(exc, "error_code", None)
                raise CardSetupRefused(f"adyen: validation {code}") from exc
            raise CardSetupUnavailable(f"adyen: HTTP {status}") from exc
        except AdyenError as exc:
            raise CardSetupUnavailable(f"adyen: {type(exc).__name__}") from exc
        answer = dict(result.message or {})
        if not (answer.get("id") and answer.get("sessionData")):
            raise CardSetupUnavailable("adyen: session without id or sessionData")
        expires = answer.get("expiresAt")
        return CardSetupSession(
            "adyen", str(answer["id"]), session_data=str(answer["sessionData"]),
            expires_at=datetime.fromisoformat(expires) if isinstance(expires, str) else None,
        )  # fmt: skip
