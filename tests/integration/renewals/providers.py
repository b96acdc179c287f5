"""Local Stripe and Adyen API stand-ins: http.server on 127.0.0.1, random port.

They answer with the providers' documented shapes (Stripe PaymentIntent / 402
card_error with decline_code and payment_intent; Adyen /payments resultCode
Authorised / Refused with refusalReason and refusalReasonCode), replay the stored
answer for a repeated idempotency key (as both providers do), and count charges
per key; Stripe customers (``state.customers``) answer ``GET /v1/customers/{id}``.
Behaviour per payment method: "*_ok" succeeds, "*_insufficient_funds"
declines soft, "*_stolen" declines hard, "*_slow" sleeps past the client timeout
on the first request of a key (after charging), "*_500" answers 500.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class ProviderState:
    def __init__(self) -> None:
        self.charges: Counter[str] = Counter()  # money movements per idempotency key
        self.requests: Counter[str] = Counter()
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.customers: dict[str, dict[str, Any]] = {}  # GET /v1/customers/{id}
        self.lock = threading.Lock()


def _stripe_answer(form: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
    pm = form.get("payment_method", "")
    meta = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
    intent = {
        "id": f"pi_{abs(hash(key)) % 10**12}",
        "object": "payment_intent",
        "amount": int(form["amount"]),
        "currency": form["currency"],
        "customer": form.get("customer"),
        "payment_method": pm,
        "metadata": meta,
        "status": "succeeded",
        "amount_received": int(form["amount"]),
    }
    if pm.endswith("_500"):
        return 500, {"error": {"type": "api_error", "message": "An unknown error occurred"}}
    for suffix, decline in (
        ("_insufficient_funds", "insufficient_funds"),
        ("_stolen", "stolen_card"),
    ):
        if pm.endswith(suffix):
            error = {"type": "card_error", "code": "card_declined", "decline_code": decline}
            failed = intent | {"status": "requires_payment_method", "amount_received": 0}
            failed["last_payment_error"] = error
            return 402, {
                "error": error | {"message": "Your card was declined.", "payment_intent": failed}
            }
    return 200, intent


def _adyen_answer(body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
    token = body["paymentMethod"]["storedPaymentMethodId"]
    base = {"pspReference": f"PSP{abs(hash(key)) % 10**14}", "merchantReference": body["reference"]}
    if token.endswith("_500"):
        return 500, {
            "status": 500,
            "errorCode": "905",
            "message": "Payment details are not supported",
        }
    if token.endswith("_insufficient_funds"):
        return 200, base | {
            "resultCode": "Refused",
            "refusalReason": "Not enough balance",
            "refusalReasonCode": "12",
        }
    if token.endswith("_stolen"):
        return 200, base | {
            "resultCode": "Refused",
            "refusalReason": "Blocked Card",
            "refusalReasonCode": "5",
        }
    return 200, base | {"resultCode": "Authorised", "amount": body["amount"]}


_MISSING = {
    "type": "invalid_request_error",
    "code": "resource_missing",
    "message": "No such customer",
}


def _handler(state: ProviderState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:
            found = state.customers.get(self.path.rsplit("/", 1)[-1])
            self._answer(*((200, found) if found else (404, {"error": _MISSING})), replayed=False)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            key = self.headers.get("Idempotency-Key") or ""
            stripe = self.path.startswith("/v1/payment_intents")
            if stripe:
                body: dict[str, Any] = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            else:
                body = json.loads(raw)
            with state.lock:
                state.requests[key] += 1
                state.bodies.append(body)
                state.headers.append(dict(self.headers))
                replay = state.answers.get(key)
                if replay is None:
                    status, answer = (_stripe_answer if stripe else _adyen_answer)(body, key)
                    if status != 500:
                        state.answers[key] = (status, answer)
                        state.charges[key] += int(
                            status == 200
                            and answer.get("status", answer.get("resultCode"))
                            in ("succeeded", "Authorised")
                        )
                    first = True
                else:
                    status, answer = replay
                    first = False
            pm = body.get("payment_method") or (body.get("paymentMethod") or {}).get(
                "storedPaymentMethodId", ""
            )
            if first and str(pm).endswith("_slow"):
                time.sleep(1.5)  # charged, but the client gives up first
            self._answer(status, answer, replayed=not first)

        def _answer(self, status: int, answer: dict[str, Any], *, replayed: bool) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if replayed:
                self.send_header("Idempotent-Replayed", "true")
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def provider_server() -> Iterator[tuple[str, ProviderState]]:
    state = ProviderState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
