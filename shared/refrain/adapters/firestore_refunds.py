"""The refund book over Firestore: find the paid invoice, reserve and settle in transactions.

``refunds/{payment ref}`` is the same document the ledger reads and writes when a
refund is credited (refrain.domain.refunds), so a reservation, a credit and a
concurrent reservation by another operator serialise on it.

Finding the payment reads the invoice (by its number, or the subscription's
latest paid invoice), its subscription (which provider took the money) and, for a
renewal, its charge record (``provider_refs``: the provider's payment id the
worker or the webhook recorded with the outcome). Operator-only: no hot path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.cloud import firestore

from refrain.adapters.firestore_collections import (
    CHARGES,
    INVOICES,
    REFUNDS,
    SUBSCRIPTIONS,
    keyed,
)
from refrain.adapters.firestore_invoices import run_transaction
from refrain.care.refunds import Payment
from refrain.domain import refunds
from refrain.domain.money import Money
from refrain.domain.refunds import RefundRefused, RefundRequest, RefundTally
from refrain.invoicing.model import DocumentKind, Invoice


class FirestoreRefundBook:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def payment(self, target: str) -> Payment:
        invoice = self._by_number(target) or self._latest_paid(target)
        if invoice is None:
            raise RefundRefused(f"no paid invoice numbered or of a subscription {target!r}")
        if invoice.kind is not DocumentKind.INVOICE:
            raise RefundRefused(f"{invoice.number} is a credit note; refund its invoice")
        if invoice.charge_id is None or invoice.gross_total.amount <= 0:
            raise RefundRefused(f"{invoice.number} records no payment to refund")
        sub = keyed(self._db, SUBSCRIPTIONS, invoice.subscription_id).get()
        provider = str((sub.to_dict() or {}).get("provider") or "") if sub.exists else ""
        if not provider:
            raise RefundRefused(f"subscription of {invoice.number} is not stored")
        return Payment(
            subscription_id=invoice.subscription_id,
            provider=provider,
            invoice_number=invoice.number,
            charge_id=invoice.charge_id,
            payment_ref=self._payment_ref(provider, invoice.charge_id),
            paid=invoice.gross_total,
        )

    def reserve(
        self, payment: Payment, request_id: str, *, amount: Money | None, reason: str, now: datetime
    ) -> RefundRequest:
        ref = keyed(self._db, REFUNDS, payment.payment_ref)

        def body(tx: firestore.Transaction) -> RefundRequest:
            tally, request = refunds.reserve(
                _tally(ref.get(transaction=tx)), payment.paid, request_id,
                amount=amount, reason=reason, now=now,
            )  # fmt: skip
            tx.set(ref, tally.to_dict())
            return request

        return run_transaction(self._db, body)

    def settle(self, payment: Payment, request_id: str, refund_id: str | None, ok: bool) -> None:
        ref = keyed(self._db, REFUNDS, payment.payment_ref)

        def body(tx: firestore.Transaction) -> None:
            tally = _tally(ref.get(transaction=tx))
            if tally is not None:
                tx.set(ref, refunds.settle(tally, request_id, refund_id, ok).to_dict())

        run_transaction(self._db, body)

    def tally(self, payment_ref: str) -> RefundTally | None:
        return _tally(keyed(self._db, REFUNDS, payment_ref).get())

    # -- finding the payment -----------------------------------------------------------------

    def _by_number(self, number: str) -> Invoice | None:
        query = (
            self._db.collection(INVOICES)
            .where(filter=firestore.FieldFilter("number", "==", number))
            .limit(2)
        )
        found = [Invoice.from_dict(doc.to_dict() or {}) for doc in query.stream()]
        invoices = [i for i in found if i.kind is DocumentKind.INVOICE] or found
        return invoices[0] if invoices else None

    def _latest_paid(self, subscription_id: str) -> Invoice | None:
        # One subscription has a few dozen invoices at most: no composite index needed.
        query = self._db.collection(INVOICES).where(
            filter=firestore.FieldFilter("subscription_id", "==", subscription_id)
        )
        paid = [
            invoice
            for invoice in (Invoice.from_dict(doc.to_dict() or {}) for doc in query.stream())
            if invoice.kind is DocumentKind.INVOICE and invoice.gross_total.amount > 0
        ]
        return max(paid, key=lambda i: (i.issued_at, i.sequence or 0), default=None)

    def _payment_ref(self, provider: str, charge_id: str) -> str:
        """The provider's id of the payment: recorded on a renewal's charge, else the id itself."""
        snap = keyed(self._db, CHARGES, charge_id).get()
        recorded: list[Any] = (
            (snap.to_dict() or {}).get("provider_refs") or [] if snap.exists else []
        )
        prefix = f"{provider}:"
        own = [str(r)[len(prefix) :] for r in recorded if str(r).startswith(prefix)]
        intents = [r for r in own if r.startswith("pi_")]
        return (intents or own or [charge_id])[0]


def _tally(snap: Any) -> RefundTally | None:
    return RefundTally.from_dict(snap.to_dict() or {}) if snap.exists else None
