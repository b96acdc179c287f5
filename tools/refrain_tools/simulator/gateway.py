"""A local Stripe + Adyen payments API for the renewal adapters, with their webhooks.

Serves, on 127.0.0.1:

* Stripe ``POST /v1/payment_intents`` (form-encoded, ``confirm=true``,
  ``off_session=true``, ``customer``, ``payment_method``, ``amount``,
  ``currency``, ``metadata[...]``; Bearer key required): 200 with a
  ``succeeded`` PaymentIntent and ``latest_charge``, or 402 ``card_error``
  with ``code`` / ``decline_code`` and the ``payment_intent`` (now
  ``requires_payment_method``), or 400 ``resource_missing``.
* Stripe ``GET /v1/customers/{id}``: the customers the simulated flows saved
  (:meth:`GatewaySimulator.save_customer`), or 404 ``resource_missing``.
* Stripe ``GET /v1/checkout/sessions/{id}/line_items``: the line items of the
  sessions the simulated flows completed (:meth:`GatewaySimulator.save_line_items`),
  as a list object, or 404 ``resource_missing``.
* Adyen Checkout ``POST /v{n}/payments`` (JSON, ``x-api-key`` required):
  200 ``Authorised`` or ``Refused`` with ``refusalReason`` and
  ``refusalReasonCode``, or 422 for an unknown token.
* Card updates: Stripe ``POST /v1/setup_intents``, Adyen ``POST /v{n}/sessions``; see
  :mod:`refrain_tools.simulator.card_setup`.
* Refunds of what it charged (and of payments saved with :meth:`save_payment`):
  Stripe ``POST /v1/refunds``, Adyen ``POST /v{n}/payments/{psp}/refunds``; see
  :mod:`refrain_tools.simulator.refunds`.

Both honour ``Idempotency-Key``: the same key gets the stored answer (Stripe
adds ``Idempotent-Replayed: true``; a Stripe key reused with other parameters
gets 400 ``idempotency_error``) and moves no money. Outcomes follow the table
in :mod:`refrain_tools.simulator.outcomes`. Like the real providers, each new charge
is also reported asynchronously (payment_intent.succeeded / payment_failed,
AUTHORISATION) through the attached :class:`WebhookSender`, stamped with the
simulated clock.

Point the adapters here with :meth:`GatewaySimulator.env` (``STRIPE_API_BASE``,
``ADYEN_CHECKOUT_URL``, ...).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from refrain.domain.clock import Clock, SystemClock
from refrain.domain.money import Money
from refrain.domain.provider_amounts import from_provider_amount
from refrain_tools.simulator import events
from refrain_tools.simulator.card_setup import CardSetupDesk, is_adyen_sessions
from refrain_tools.simulator.delivery import WebhookSender
from refrain_tools.simulator.outcomes import Decision, Kind, decide
from refrain_tools.simulator.protocol import (
    KEY_REUSED,
    Answer,
    adyen_error,
    is_adyen_payments,
    parse_anchor,
    parse_reference,
    parse_stripe_form,
    stripe_error,
)
from refrain_tools.simulator.refunds import Paid, RefundDesk, adyen_refund_psp

PeriodKey = tuple[str, datetime]


@dataclass(frozen=True)
class Reply:
    status: int
    payload: dict[str, Any]
    slow: bool = False  # answer only after ``slow_answer_s`` (the client has given up)
    replayed: bool = False  # served from the idempotency store


@dataclass(frozen=True)
class ChargeRecord:
    """One new charge the gateway processed (replays are not charges)."""

    provider: str
    key: str
    subscription_id: str | None
    billing_anchor: datetime | None
    method: str
    amount: Money
    outcome: Kind
    provider_ref: str | None
    at: datetime
    customer: str | None = None  # Stripe: the ``customer`` the PaymentIntent was created for


class GatewaySimulator:
    """The payments API server; ``start()`` it, point the adapters at ``url``."""

    def __init__(
        self,
        *,
        port: int = 0,
        clock: Clock | None = None,
        webhooks: WebhookSender | None = None,
        slow_answer_s: float = 21.0,
    ) -> None:
        self.clock = clock or SystemClock()
        self.webhooks = webhooks
        self.slow_answer_s = slow_answer_s
        self._lock = threading.Lock()
        self._stored: dict[tuple[str, str], tuple[Answer, str]] = {}
        self._requests: Counter[str] = Counter()
        self._replays = 0
        self._charges: list[ChargeRecord] = []
        self._tries: Counter[tuple[str, str]] = Counter()  # (subscription, method)
        self._customers: dict[str, dict[str, Any]] = {}
        self._line_items: dict[str, list[dict[str, Any]]] = {}
        self.refunds = RefundDesk(lambda: self.clock.now())  # noqa: PLW0108 - clock may be swapped
        self.cards = CardSetupDesk(lambda: self.clock.now(), lambda c: c in self._customers)  # noqa: PLW0108
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GatewaySimulator:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> GatewaySimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment that makes refrain.bootstrap.build_gateways charge through this server."""
        return {
            "REFRAIN_PAYMENT_GATEWAY": "providers",
            "STRIPE_API_KEY": "sk_test_simulator",
            "STRIPE_API_BASE": self.url,
            "ADYEN_API_KEY": "adyen_test_simulator",
            "ADYEN_MERCHANT_ACCOUNT": events.ADYEN_MERCHANT_ACCOUNT,
            "ADYEN_CHECKOUT_URL": self.url,
        }

    # counters for the invariant checks ----------------------------------------

    def charges(self) -> list[ChargeRecord]:
        with self._lock:
            return list(self._charges)

    def charges_by_key(self) -> dict[str, int]:
        """New charges per idempotency key: more than 1 would be a double charge."""
        return dict(Counter(c.key for c in self.charges()))

    def requests_by_key(self) -> dict[str, int]:
        """Requests per idempotency key, replays included (what retries look like)."""
        with self._lock:
            return dict(self._requests)

    @property
    def replays(self) -> int:
        with self._lock:
            return self._replays

    def successful_charges_per_period(self) -> dict[PeriodKey, int]:
        """Authorised charges per (subscription, billing anchor): must never exceed 1."""
        found = Counter(
            (c.subscription_id, c.billing_anchor)
            for c in self.charges()
            if c.outcome is Kind.AUTHORISED and c.subscription_id and c.billing_anchor
        )
        return {(s, a): n for (s, a), n in found.items() if s and a}

    def save_customer(self, customer: dict[str, Any]) -> None:
        """Hold a Stripe Customer object as the account has it now (checkout, card change)."""
        with self._lock:
            self._customers[str(customer["id"])] = dict(customer)

    def save_payment(self, provider: str, ref: str, amount: Money, **metadata: str) -> None:
        """A payment the simulated checkout captured, so that it can be refunded."""
        with self._lock:
            self.refunds.save_payment(Paid(provider, ref, amount, dict(metadata)))

    def save_line_items(self, session_id: str, items: list[dict[str, Any]]) -> None:
        """Hold what a Checkout Session sold (Stripe keeps it off the webhook payload)."""
        with self._lock:
            self._line_items[session_id] = [dict(item) for item in items]

    # the two APIs ---------------------------------------------------------------

    def handle_get(self, path: str, headers: dict[str, str]) -> Reply:
        """The reply to one GET: Stripe's customer retrieval, a session's line items."""
        denied = self._authenticate("stripe", headers)
        if denied is not None:
            return Reply(*denied)
        parts = path.split("?", maxsplit=1)[0].strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["v1", "checkout", "sessions"]:
            return self._session_line_items(parts[3], "/".join(["", *parts]))
        customer = parts[2] if len(parts) == 3 and parts[:2] == ["v1", "customers"] else None
        with self._lock:
            found = self._customers.get(customer) if customer else None
        if found is not None:
            return Reply(200, found)
        what = f"customer: '{customer}'" if customer else f"URL (GET: {path})"
        return Reply(
            *stripe_error(404, "invalid_request_error", "resource_missing", f"No such {what}")
        )

    def _session_line_items(self, session_id: str, url: str) -> Reply:
        with self._lock:
            items = self._line_items.get(session_id)
        if items is None:
            return Reply(
                *stripe_error(
                    404,
                    "invalid_request_error",
                    "resource_missing",
                    f"No such checkout.session: '{session_id}'",
                )
            )
        return Reply(200, {"object": "list", "data": items, "has_more": False, "url": url})

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """The reply to one POST (``headers`` with lower-case names)."""
        if path == "/v1/payment_intents":
            return self._idempotent("stripe", headers, body, self._stripe)
        if is_adyen_payments(path):
            return self._idempotent("adyen", headers, body, self._adyen)
        if path == "/v1/refunds":
            return self._idempotent("stripe", headers, body, self.refunds.stripe)
        if path == "/v1/setup_intents":  # card updates: refrain_tools.simulator.card_setup
            return self._idempotent("stripe", headers, body, self.cards.stripe)
        if is_adyen_sessions(path):
            return self._idempotent("adyen", headers, body, self.cards.adyen)
        psp = adyen_refund_psp(path)
        if psp is not None:
            return self._idempotent(
                "adyen", headers, body, lambda key, raw: self.refunds.adyen(psp, key, raw)
            )
        return Reply(
            *stripe_error(
                404, "invalid_request_error", None, f"Unrecognized request URL (POST: {path})"
            )
        )

    def _idempotent(
        self, provider: str, headers: dict[str, str], body: bytes, process: Any
    ) -> Reply:
        denied = self._authenticate(provider, headers)
        if denied is not None:
            return Reply(*denied)
        key = headers.get("idempotency-key") or events.new_id("auto")
        fingerprint = body.decode("utf-8", errors="replace")
        with self._lock:
            self._requests[key] += 1
            stored = self._stored.get((provider, key))
            if stored is not None:
                self._replays += 1
                answer, first_body = stored
                if provider == "stripe" and first_body != fingerprint:
                    return Reply(
                        *stripe_error(
                            400,
                            "idempotency_error",
                            None,
                            KEY_REUSED,
                        )
                    )
                return Reply(answer[0], answer[1], replayed=True)
            answer, webhook, decision = process(key, body)
            self._stored[(provider, key)] = (answer, fingerprint)
        if webhook is not None and self.webhooks is not None:
            (self.webhooks.send_stripe if provider == "stripe" else self.webhooks.send_adyen)(
                webhook
            )
        return Reply(answer[0], answer[1], slow=bool(decision and decision.slow))

    @staticmethod
    def _authenticate(provider: str, headers: dict[str, str]) -> Answer | None:
        if provider == "stripe" and not headers.get("authorization", "").startswith("Bearer "):
            return stripe_error(
                401, "invalid_request_error", None, "You did not provide an API key."
            )
        if provider == "adyen" and not headers.get("x-api-key"):
            return 401, {
                "status": 401,
                "errorCode": "000",
                "message": "HTTP Status Response - Unauthorized",
                "errorType": "security",
            }
        return None

    def _decide(self, subscription_id: str | None, method: str) -> Decision:
        tries = (subscription_id or "", method)
        decision = decide(method, self._tries[tries])
        if decision.kind is not Kind.UNKNOWN_METHOD:
            self._tries[tries] += 1
        return decision

    def _stripe(
        self, key: str, body: bytes
    ) -> tuple[Answer, dict[str, Any] | None, Decision | None]:
        p = parse_stripe_form(body.decode())
        missing = [f for f in ("amount", "currency", "payment_method") if not p.get(f)]
        if missing or p.get("confirm") != "true" or p.get("off_session") != "true":
            what = missing[0] if missing else "confirm/off_session"
            return (
                stripe_error(
                    400,
                    "invalid_request_error",
                    "parameter_missing",
                    f"Missing required param: {what}.",
                ),
                None,
                None,
            )
        meta: dict[str, str] = p.get("metadata") or {}
        sub, method = meta.get("subscription_id"), str(p["payment_method"])
        decision = self._decide(sub, method)
        if decision.kind is Kind.UNKNOWN_METHOD:
            return (
                stripe_error(
                    400,
                    "invalid_request_error",
                    "resource_missing",
                    f"No such PaymentMethod: '{method}'",
                ),
                None,
                None,
            )
        try:
            amount = from_provider_amount(int(p["amount"]), str(p["currency"]).upper(), "stripe")
        except ValueError as exc:
            return (
                stripe_error(400, "invalid_request_error", "parameter_invalid_integer", str(exc)),
                None,
                None,
            )
        now, refusal = self.clock.now(), decision.refusal
        intent = events.payment_intent(
            at=now, amount=amount, customer=p.get("customer"), payment_method=method, metadata=meta,
            succeeded=decision.kind is Kind.AUTHORISED,
            code=refusal.stripe_code if refusal else None,
            decline_code=refusal.stripe_decline_code if refusal else None,
            message=refusal.message if refusal else "",
        )  # fmt: skip
        anchor = parse_anchor(meta.get("billing_anchor"))
        record = ChargeRecord(
            "stripe", key, sub, anchor, method, amount, decision.kind, intent["id"], now,
            p.get("customer"),
        )  # fmt: skip
        self._charges.append(record)
        if refusal is None:
            paid = Paid("stripe", intent["id"], amount, dict(meta), intent["latest_charge"])
            self.refunds.save_payment(paid)
        webhook = events.payment_intent_event(intent, now)
        if refusal is None:
            return (200, intent), webhook, decision
        error = dict(intent["last_payment_error"] or {})
        error.update(
            payment_intent=intent, payment_method={"id": method, "object": "payment_method"}
        )
        return (402, {"error": error}), webhook, decision

    def _adyen(
        self, key: str, body: bytes
    ) -> tuple[Answer, dict[str, Any] | None, Decision | None]:
        try:
            req = json.loads(body)
            amount_field, reference = req["amount"], str(req["reference"])
            method = str(req["paymentMethod"]["storedPaymentMethodId"])
            amount = from_provider_amount(
                int(amount_field["value"]), str(amount_field["currency"]), "adyen"
            )
            if req.get("shopperInteraction") != "ContAuth" or not req.get("shopperReference"):
                raise KeyError("shopperInteraction ContAuth and shopperReference")
        except (KeyError, TypeError, ValueError) as exc:
            return adyen_error(422, "702", f"Structure of request is invalid: {exc}"), None, None
        meta = req.get("metadata") or {}
        sub, anchor = parse_reference(reference)
        sub = meta.get("subscription_id") or sub
        anchor = parse_anchor(meta.get("billing_anchor")) or anchor
        decision = self._decide(sub, method)
        if decision.kind is Kind.UNKNOWN_METHOD:
            return adyen_error(422, "800", "Contract not found"), None, None
        now, psp, refusal = self.clock.now(), events.new_psp(), decision.refusal
        self._charges.append(
            ChargeRecord("adyen", key, sub, anchor, method, amount, decision.kind, psp, now)
        )
        if refusal is None:
            self.refunds.save_payment(Paid("adyen", psp, amount, {"subscription_id": sub or ""}))
        answer: dict[str, Any] = {
            "pspReference": psp,
            "merchantReference": reference,
            "amount": amount_field,
            "resultCode": "Authorised" if refusal is None else "Refused",
            "additionalData": {
                "recurringProcessingModel": str(req.get("recurringProcessingModel"))
            },
        }
        if refusal is not None:
            answer.update(refusalReason=refusal.adyen_reason, refusalReasonCode=refusal.adyen_code)
        webhook = events.adyen_renewal(
            at=now, reference=reference, amount=amount, authorised=refusal is None,
            psp_reference=psp, refusal_reason=refusal.adyen_reason if refusal else None,
            refusal_code=refusal.adyen_code if refusal else None,
        )  # fmt: skip
        return (200, answer), webhook, decision


def _handler_for(sim: GatewaySimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer({k.lower(): v for k, v in self.headers.items()}, None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._answer({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))

        def _answer(self, headers: dict[str, str], body: bytes | None) -> None:
            if body is None:
                reply = sim.handle_get(self.path, headers)
            else:
                reply = sim.handle(self.path, headers, body)
            if reply.slow:
                time.sleep(sim.slow_answer_s)
            data = json.dumps(reply.payload).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", events.new_id("req"))
                if headers.get("idempotency-key"):
                    self.send_header("Idempotency-Key", headers["idempotency-key"])
                if reply.replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the "timeout" method)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test and demo output clean

    return Handler
