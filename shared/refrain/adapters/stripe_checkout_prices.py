"""The Prices a Stripe Checkout Session sold, read through the `stripe` library.

Stripe leaves ``line_items`` out of the ``checkout.session.completed`` payload; a
session created without Refrain's metadata is mapped to a plan from its Prices
(refrain.providers.price_plans), so the webhook asks Stripe for them:
``GET /v1/checkout/sessions/{id}/line_items``. Only for such sessions: one with
metadata never calls out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from refrain.ingest.model import MappingError

# A key Stripe refuses is an operator's fix away: retried like an outage, never guessed.
_UNAVAILABLE = (
    stripe.APIConnectionError,
    stripe.RateLimitError,
    stripe.APIError,
    stripe.AuthenticationError,
    stripe.PermissionError,
)


class StripeUnavailable(RuntimeError):
    """Stripe could not answer now: the request is answered 503 and retried."""


@dataclass
class StripeCheckoutPrices:
    client: stripe.StripeClient

    @classmethod
    def create(
        cls, api_key: str, api_base: str | None = None, timeout_s: float = 10.0
    ) -> StripeCheckoutPrices:
        client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else {},
            max_network_retries=1,
            http_client=stripe.RequestsClient(timeout=timeout_s),
        )
        return cls(client)

    def __call__(self, session_id: str) -> list[dict[str, Any]]:
        try:
            page = self.client.v1.checkout.sessions.line_items.list(session_id, {"limit": 20})
        except _UNAVAILABLE as exc:
            raise StripeUnavailable(f"stripe: {type(exc).__name__}") from exc
        except stripe.StripeError as exc:  # no such session for this key: cannot be mapped
            raise MappingError(f"Stripe has no line items for the session: {exc.code}") from exc
        prices = [item.to_dict().get("price") for item in page.data]
        return [dict(price) for price in prices if isinstance(price, dict)]
