"""Stripe card updates: ``POST /v1/setup_intents`` for the subscription's customer.

``customer`` from the stored ref (``cus_…:pm_…`` or ``cus_…``: the checkout's customer),
``usage=off_session`` (renewals charge it while the customer is away),
``payment_method_types[]=card``, ``metadata[subscription_id]`` (what the webhook's
``setup_intent.succeeded`` mapping reads to find the subscription,
refrain.providers.stripe_payment_methods) and our idempotency key. Stripe attaches the
confirmed card to the customer (``payment_method.attached``, found by the customer).
A subscription with no Stripe customer on file cannot get one here: refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from refrain.account.payment_method import (
    CardSetupRefused,
    CardSetupRequest,
    CardSetupSession,
    CardSetupUnavailable,
)
from refrain.adapters.gateway_stripe import TRANSIENT, StripeGateway, split_ref


@dataclass
class StripeCardSetup:
    client: stripe.StripeClient

    @classmethod
    def create(
        cls, api_key: str, api_base: str | None = None, timeout_s: float = 10.0
    ) -> StripeCardSetup:
        # no retries by the library: the subscriber retries with the same key
        client = StripeGateway.create(api_key, api_base, timeout_s).client
        return cls(client)

    def start(self, request: CardSetupRequest) -> CardSetupSession:
        customer, _ = split_ref(request.payment_method_ref)
        if customer is None:
            raise CardSetupRefused("no Stripe customer on file for this subscription")
        try:
            intent = self.client.v1.setup_intents.create(
                {  # type: ignore[arg-type]
                    "customer": customer,
                    "usage": "off_session",
                    "payment_method_types": ["card"],
                    "metadata": {"subscription_id": request.subscription_id},
                },
                {"idempotency_key": request.idempotency_key},
            )
        except TRANSIENT as exc:
            raise CardSetupUnavailable(f"stripe: {type(exc).__name__}") from exc
        except stripe.InvalidRequestError as exc:  # e.g. the customer was deleted
            raise CardSetupRefused(f"stripe: {exc.code or 'invalid_request'}") from exc
        if not intent.client_secret:
            raise CardSetupUnavailable("stripe: SetupIntent without client_secret")
        return CardSetupSession("stripe", intent.id, client_secret=intent.client_secret)
