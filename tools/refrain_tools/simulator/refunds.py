"""Refunds on the simulated payments API, shaped as Stripe's and Adyen's real ones.

* Stripe ``POST /v1/refunds`` (``payment_intent`` or ``charge``, ``amount``,
  ``reason``, ``metadata[...]``, ``expand[]=charge``): 200 with a ``succeeded``
  Refund (its ``charge`` expanded when asked, with the cumulative
  ``amount_refunded``), then ``charge.refunded`` with ``previous_attributes``;
  400 ``charge_already_refunded`` / ``amount_too_large`` / ``resource_missing``.
* Adyen ``POST /v{n}/payments/{pspReference}/refunds``: 201-style answer
  ``status: received`` with the refund's own pspReference, then a REFUND
  notification (``originalReference`` = the payment, ``merchantReference`` = the
  request's ``reference``); 422 when the amount exceeds what is left.

Payments are what the simulated gateway charged plus those the simulated
checkouts registered (:meth:`RefundDesk.save_payment`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from refrain.domain.money import Money
from refrain.domain.provider_amounts import from_provider_amount
from refrain_tools.simulator import events
from refrain_tools.simulator.adyen_events import adyen_refund, new_psp
from refrain_tools.simulator.protocol import Answer, adyen_error, parse_stripe_form, stripe_error

Processed = tuple[Answer, dict[str, Any] | None, None]


@dataclass
class Paid:
    """A captured payment as the provider holds it."""

    provider: str
    ref: str  # PaymentIntent id / pspReference
    amount: Money
    metadata: dict[str, str] = field(default_factory=dict)
    charge_id: str = field(default_factory=lambda: events.new_id("ch"))
    refunded: int = 0
    lost: int = 0  # taken back by a dispute the merchant lost


class RefundDesk:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._payments: dict[tuple[str, str], Paid] = {}

    def save_payment(self, paid: Paid) -> None:
        self._payments[(paid.provider, paid.ref)] = paid

    def paid(self, provider: str, ref: str) -> Paid | None:
        return self._payments.get((provider, ref))

    def refunded(self) -> dict[tuple[str, str], int]:
        """Minor units refunded per (provider, payment): what the invariant checks read."""
        return {k: p.refunded for k, p in self._payments.items() if p.refunded}

    def dispute_lost(self, provider: str, ref: str, amount: int) -> None:
        """The card network kept ``amount`` of this payment for the cardholder."""
        self._payments[(provider, ref)].lost += amount

    def kept_by_subscription(self) -> dict[str, Money]:
        """What the merchant kept per subscription: paid, minus refunded, minus lost."""
        kept: dict[str, Money] = {}
        for p in self._payments.values():
            sub = p.metadata.get("subscription_id")
            if sub:
                left = Money(p.amount.amount - p.refunded - p.lost, p.amount.currency)
                kept[sub] = kept[sub] + left if sub in kept else left
        return kept

    # -- Stripe --------------------------------------------------------------------------------

    def stripe(self, key: str, body: bytes) -> Processed:
        p = parse_stripe_form(body.decode())
        ref = p.get("payment_intent") or p.get("charge")
        paid = next(
            (
                x
                for x in self._payments.values()
                if x.provider == "stripe" and ref in (x.ref, x.charge_id)
            ),
            None,
        )
        if paid is None:
            what = "payment_intent" if p.get("payment_intent") else "charge"
            return _stripe_fail(400, "resource_missing", f"No such {what}: '{ref}'"), None, None
        left = paid.amount.amount - paid.refunded
        if left <= 0:
            message = f"Charge {paid.charge_id} has already been refunded."
            return _stripe_fail(400, "charge_already_refunded", message), None, None
        try:
            asked = left if p.get("amount") is None else int(p["amount"])
            amount = from_provider_amount(asked, paid.amount.currency, "stripe")
        except ValueError as exc:
            return _stripe_fail(400, "parameter_invalid_integer", str(exc)), None, None
        if not 0 < amount.amount <= left:
            message = f"Refund amount ({amount}) is greater than unrefunded amount on charge."
            return _stripe_fail(400, "amount_too_large", message), None, None
        before, now = Money(paid.refunded, paid.amount.currency), self._now()
        paid.refunded += amount.amount
        after = Money(paid.refunded, paid.amount.currency)
        charge = events.charge_refunded(
            at=now, payment_intent=paid.ref, amount=paid.amount, refunded=after,
            metadata=paid.metadata, charge_id=paid.charge_id, previously_refunded=before,
        )  # fmt: skip
        expand = p.get("expand") or {}
        refund = {
            "id": events.new_id("re"),
            "object": "refund",
            "amount": int(asked),
            "balance_transaction": events.new_id("txn"),
            "charge": charge["data"]["object"] if "charge" in expand.values() else paid.charge_id,
            "created": int(now.timestamp()),
            "currency": paid.amount.currency.lower(),
            "metadata": dict(p.get("metadata") or {}),
            "payment_intent": paid.ref,
            "reason": p.get("reason"),
            "receipt_number": None,
            "status": "succeeded",
        }
        return (200, refund), charge, None

    # -- Adyen ---------------------------------------------------------------------------------

    def adyen(self, psp: str, key: str, body: bytes) -> Processed:
        paid = self.paid("adyen", psp)
        if paid is None:
            return (
                adyen_error(422, "167", "Original pspReference required for this operation"),
                None,
                None,
            )
        try:
            req = json.loads(body)
            value, currency = int(req["amount"]["value"]), str(req["amount"]["currency"])
            amount = from_provider_amount(value, currency, "adyen")
            reference = str(req.get("reference") or psp)
            if not req.get("merchantAccount"):
                raise KeyError("merchantAccount")
        except (KeyError, TypeError, ValueError) as exc:
            return adyen_error(422, "702", f"Structure of request is invalid: {exc}"), None, None
        if (
            currency != paid.amount.currency
            or not 0 < amount.amount <= paid.amount.amount - paid.refunded
        ):
            return adyen_error(422, "137", "Invalid amount specified"), None, None
        paid.refunded += amount.amount
        refund_psp = new_psp()
        answer = {
            "merchantAccount": req["merchantAccount"],
            "paymentPspReference": psp,
            "pspReference": refund_psp,
            "reference": reference,
            "status": "received",
            "amount": req["amount"],
        }
        webhook = adyen_refund(
            at=self._now(), original_reference=psp, merchant_reference=reference, amount=amount,
            psp_reference=refund_psp,
        )  # fmt: skip
        return (201, answer), webhook, None


def adyen_refund_psp(path: str) -> str | None:
    """The payment's pspReference in ``/v{n}/payments/{psp}/refunds``, else None."""
    parts = path.split("?", maxsplit=1)[0].strip("/").split("/")
    versioned = len(parts) == 4 and parts[0][:1] == "v" and parts[0][1:].isdigit()
    if versioned and parts[1] == "payments" and parts[3] == "refunds" and parts[2]:
        return parts[2]
    return None


def _stripe_fail(status: int, code: str, message: str) -> Answer:
    return stripe_error(status, "invalid_request_error", code, message)
