"""The charge record `charges/{charge_id}`: one claimed renewal charge attempt.

The charge id is the domain's idempotency key "{subscription}:{billing anchor}:{attempt}"
(what Stripe receives as idempotency key and metadata.charge_id, and Adyen as
merchantReference and Idempotency-Key). The renewal worker creates the record
(status "pending") in the same ledger transaction that applies RenewalDue; the
first recorded outcome (by the worker after the gateway call, or by the webhook's
asynchronous confirmation, whichever commits first) turns it into "succeeded" or
"declined". The rules between the two reporters are in refrain.domain.charges;
this module is only the record's shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from refrain.domain.charges import PENDING, outcome_of
from refrain.domain.inputs import Input, PaymentFailed
from refrain.domain.money import Money
from refrain.domain.outcome import ChargeRequest


def claim_document(charge: ChargeRequest, provider: str, now: datetime) -> dict[str, Any]:
    """What the worker needs to re-drive the charge with the same key after a crash."""
    return {
        "charge_id": charge.idempotency_key,  # the id itself (the document id encodes it)
        "subscription_id": charge.subscription_id,
        "billing_anchor": charge.billing_anchor,
        "attempt": charge.attempt,
        "amount": charge.amount.amount,
        "currency": charge.amount.currency,
        "purpose": charge.purpose,
        "payment_method_ref": charge.payment_method_ref,
        "provider": provider,
        "status": PENDING,
        "claimed_at": now,
        "drives": 1,
    }


def charge_from_document(charge_id: str, data: dict[str, Any]) -> ChargeRequest:
    return ChargeRequest(
        subscription_id=str(data["subscription_id"]),
        idempotency_key=charge_id,
        amount=Money(int(data["amount"]), str(data["currency"])),
        billing_anchor=data["billing_anchor"],
        attempt=int(data["attempt"]),
        purpose=str(data.get("purpose") or "renewal"),
        payment_method_ref=data.get("payment_method_ref"),
    )


def outcome_fields(
    inp: Input, source: str, ledger_status: str, now: datetime, refs: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The outcome on the charge record, with the provider's references to the payment
    (``stripe:pi_…``, ``adyen:{psp}``): what a refund of this charge is sent against."""
    fields: dict[str, Any] = {
        "status": outcome_of(inp),
        "recorded_by": source,
        "recorded_at": now,
        "ledger_status": ledger_status,
    }
    if refs:
        fields["provider_refs"] = list(refs)
    if isinstance(inp, PaymentFailed):
        fields["decline"] = {
            "category": inp.decline.category.value,
            "code": inp.decline.code,
            "hard": inp.decline.hard,
        }
    return fields
