"""Card updates at the simulated providers: Stripe SetupIntents and Adyen Checkout sessions.

Serves (through :class:`refrain_tools.simulator.gateway.GatewaySimulator`, which adds
authentication and ``Idempotency-Key`` replay):

* Stripe ``POST /v1/setup_intents`` (form-encoded): ``customer`` must be a customer the
  simulated flows saved (else 400 ``resource_missing``, as Stripe answers); 200 with a
  SetupIntent exactly as the API reference shows one (``status``
  ``requires_payment_method``, ``client_secret``, ``usage``, ``metadata``, ...).
* Adyen ``POST /v{n}/sessions`` (JSON): ``amount``, ``merchantAccount``, ``reference``
  and ``returnUrl`` required (else 422); 201 with the request's fields echoed plus
  ``id``, ``sessionData``, ``expiresAt`` (one hour) and ``mode: embedded``, as Adyen
  answers.

What the subscriber's browser would then do (confirm the SetupIntent with Stripe.js,
pay the zero-amount session in Drop-in) is :meth:`CardSetupDesk.confirm_stripe` and
:meth:`CardSetupDesk.confirm_adyen`: they return the webhooks the real provider sends
(``setup_intent.succeeded`` and ``payment_method.attached``; ``AUTHORISATION`` with the
token and ``RECURRING_CONTRACT``), for the caller to deliver.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from refrain.domain.money import Money
from refrain_tools.simulator.adyen_events import adyen_item, adyen_recurring_contract
from refrain_tools.simulator.protocol import Answer, adyen_error, parse_stripe_form, stripe_error
from refrain_tools.simulator.stripe_envelope import new_id, stripe_event, unix

SESSION_LIFETIME = timedelta(hours=1)  # Adyen's default expiresAt


def is_adyen_sessions(path: str) -> bool:
    """``/v71/sessions`` (any Checkout API version)."""
    parts = path.strip("/").split("/")
    return (
        len(parts) == 2
        and parts[0][:1] == "v"
        and parts[0][1:].isdigit()
        and parts[1] == ("sessions")
    )


class CardSetupDesk:
    def __init__(self, now: Callable[[], datetime], customers: Callable[[str], bool]) -> None:
        self._now = now
        self._customer_exists = customers
        self.setup_intents: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}

    # the APIs (called under the simulator's lock) -------------------------------------

    def stripe(self, key: str, body: bytes) -> tuple[Answer, None, None]:
        p = parse_stripe_form(body.decode())
        customer = p.get("customer")
        if customer and not self._customer_exists(str(customer)):
            return stripe_error(400, "invalid_request_error", "resource_missing",
                                f"No such customer: '{customer}'"), None, None  # fmt: skip
        usage = p.get("usage") or "off_session"
        if usage not in ("off_session", "on_session"):
            return stripe_error(400, "invalid_request_error", "parameter_invalid_string",
                                "Invalid usage"), None, None  # fmt: skip
        types = p.get("payment_method_types") or {"0": "card"}
        seti = new_id("seti", 24)
        intent: dict[str, Any] = {
            "id": seti,
            "object": "setup_intent",
            "application": None,
            "automatic_payment_methods": None,
            "cancellation_reason": None,
            "client_secret": f"{seti}_secret_{secrets.token_urlsafe(18)}",
            "created": unix(self._now()),
            "customer": customer,
            "description": p.get("description"),
            "flow_directions": None,
            "last_setup_error": None,
            "latest_attempt": None,
            "livemode": False,
            "mandate": None,
            "metadata": dict(p.get("metadata") or {}),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": {
                "card": {
                    "mandate_options": None,
                    "network": None,
                    "request_three_d_secure": "automatic",
                }
            },
            "payment_method_types": list(types.values()) if isinstance(types, dict) else [types],
            "single_use_mandate": None,
            "status": "requires_payment_method",
            "usage": usage,
        }
        self.setup_intents[seti] = intent
        return (200, intent), None, None

    def adyen(self, key: str, body: bytes) -> tuple[Answer, None, None]:
        try:
            req = json.loads(body)
            missing = [f for f in ("amount", "merchantAccount", "reference", "returnUrl")
                       if not req.get(f) and req.get(f) != 0]  # fmt: skip
            if missing:
                raise KeyError(missing[0])
            int(req["amount"]["value"]), str(req["amount"]["currency"])
        except (KeyError, TypeError, ValueError) as exc:
            return adyen_error(422, "702", f"Required field {exc} is not provided."), None, None
        session_id = "CS" + secrets.token_hex(8).upper()
        expires = self._now() + SESSION_LIFETIME
        answer = {
            **req,
            "id": session_id,
            "expiresAt": expires.isoformat(timespec="seconds"),
            "mode": "embedded",
            "sessionData": base64.b64encode(secrets.token_bytes(48)).decode(),
        }
        self.sessions[session_id] = answer
        return (201, answer), None, None

    # what the subscriber's browser does next ------------------------------------------

    def confirm_stripe(self, seti: str, payment_method: str | None = None) -> list[dict[str, Any]]:
        """Stripe.js confirmed the SetupIntent: the events Stripe sends, oldest first."""
        intent = self.setup_intents[seti]
        method = payment_method or new_id("pm")
        intent.update(status="succeeded", payment_method=method, client_secret=None)
        at = self._now()
        attached = {"id": method, "object": "payment_method", "type": "card",
                    "customer": intent["customer"], "created": unix(at)}  # fmt: skip
        sent = {**intent, "client_secret": None}
        return [stripe_event("payment_method.attached", attached, at),
                stripe_event("setup_intent.succeeded", sent, at)]  # fmt: skip

    def confirm_adyen(self, session_id: str, token: str | None = None) -> list[dict[str, Any]]:
        """Drop-in paid the zero-amount session: AUTHORISATION with the token, then
        RECURRING_CONTRACT, as Adyen notifies them."""
        session = self.sessions[session_id]
        token = token or f"TKN{secrets.token_hex(6).upper()}"
        shopper = str(session.get("shopperReference") or "")
        currency = str(session["amount"]["currency"])
        at = self._now()
        auth = adyen_item(
            "AUTHORISATION", at=at, merchant_reference=str(session["reference"]),
            amount=Money(0, currency), additional={
                "tokenization.storedPaymentMethodId": token,
                "tokenization.shopperReference": shopper,
                "recurringProcessingModel": "Subscription",
            },
        )  # fmt: skip
        contract = adyen_recurring_contract(
            at=at, merchant_reference=str(session["reference"]), token=token,
            shopper_reference=shopper, currency=currency,
        )  # fmt: skip
        return [auth, contract]
