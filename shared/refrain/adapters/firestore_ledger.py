"""The ledger over Firestore: one transaction per input.

Reads (2): the dedupe/outbox record and the subscription. Writes: the
dedupe/outbox record (always, create-only), the subscription (when the state
changed), the customer's contact details (checkout only) and provider
reference index entries (checkout and successful payments only). One commit.

Charges (see refrain.adapters.firestore_charges): a payment outcome that names
a claimed charge also reads `charges/{charge_id}` (third read): when that
charge's outcome is already recorded, the same outcome reported again (the
webhook after the worker, or the worker after the webhook) is a DUPLICATE and
writes nothing; otherwise the outcome is written onto the charge record in the
same commit. With `claim_charge` the renewal worker's RenewalDue creates the
charge record (create precondition) in the same commit as the state change.

The dedupe record *is* the outbox entry: it carries the domain events and a
`published` flag, so the relay finds unpublished events with one indexed
query (published == false, ordered by created_at) and a crash between commit
and publish loses nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.api_core.exceptions import Aborted, AlreadyExists, Conflict
from google.cloud import firestore

from refrain.adapters import firestore_charges as charges
from refrain.collections import CHARGES, CUSTOMERS, OUTBOX, PROVIDER_REFS, SUBSCRIPTIONS
from refrain.domain.events import DomainEvent
from refrain.domain.inputs import CheckoutCompleted, PaymentSucceeded
from refrain.domain.machine import apply, next_deadline
from refrain.domain.outcome import ChargeRequest, OutcomeKind
from refrain.domain.subscription import Subscription
from refrain.ingest.ledger import LedgerCommand, LedgerResult, LedgerStatus

_STATUS = {
    OutcomeKind.APPLIED: LedgerStatus.APPLIED,
    OutcomeKind.DUPLICATE: LedgerStatus.DUPLICATE,
    OutcomeKind.STALE: LedgerStatus.STALE,
    OutcomeKind.ILLEGAL: LedgerStatus.ILLEGAL,
}


def stored_subscription(sub: Subscription) -> dict[str, Any]:
    """The aggregate plus typed copies of the fields that queries filter on."""
    doc = sub.to_dict()
    doc["next_charge_ts"] = sub.next_charge_at
    # The renewal tick's query field: the earliest of next charge, grace end, hold end, resume.
    doc["next_deadline_ts"] = next_deadline(sub)
    doc["state"] = sub.state.value
    doc["billing_mode"] = sub.billing_mode.value
    return doc


def ref_doc_id(ref: str) -> str:
    return ref.replace("/", "_")


@dataclass
class FirestoreLedger:
    db: firestore.Client
    max_attempts: int = 5

    def resolve_ref(self, ref: str) -> str | None:
        snap = self.db.collection(PROVIDER_REFS).document(ref_doc_id(ref)).get()
        data = snap.to_dict() if snap.exists else None
        return str(data["subscription_id"]) if data else None

    def apply(self, command: LedgerCommand) -> LedgerResult:
        transaction = self.db.transaction(max_attempts=self.max_attempts)
        try:
            result: LedgerResult = _apply_in(transaction, self.db, command)
            return result
        except (AlreadyExists, Conflict):
            # A concurrent delivery of the same event committed first.
            return LedgerResult(LedgerStatus.DUPLICATE, "processed concurrently")
        except (ValueError, Aborted):
            # Contention outlasted the retries. If a concurrent delivery of this very
            # event won (it may be committing right now), this one is a duplicate;
            # otherwise the caller answers 5xx and the provider retries.
            for _ in range(5):
                if self.db.collection(OUTBOX).document(command.dedupe_key).get().exists:
                    return LedgerResult(LedgerStatus.DUPLICATE, "processed concurrently")
                time.sleep(0.2)
            raise


@firestore.transactional
def _apply_in(
    transaction: firestore.Transaction, db: firestore.Client, cmd: LedgerCommand
) -> LedgerResult:
    outbox_ref = db.collection(OUTBOX).document(cmd.dedupe_key)
    sub_ref = (
        db.collection(SUBSCRIPTIONS).document(cmd.subscription_id)
        if cmd.subscription_id is not None
        else None
    )
    # One round trip for both reads (the dedupe record and the aggregate).
    refs = [outbox_ref] if sub_ref is None else [outbox_ref, sub_ref]
    snaps = {snap.reference.path: snap for snap in transaction.get_all(refs)}
    seen = snaps[outbox_ref.path]
    if seen.exists:
        previous = seen.to_dict() or {}
        return LedgerResult(LedgerStatus.DUPLICATE, f"already {previous.get('status')}")
    sub: Subscription | None = None
    if sub_ref is not None:
        snap = snaps[sub_ref.path]
        if snap.exists:
            sub = Subscription.from_dict(snap.to_dict() or {})
        elif cmd.draft is not None:
            sub = cmd.draft
    record: dict[str, Any] = {
        "source": cmd.source,
        "subscription_id": cmd.subscription_id,
        "input_type": type(cmd.input).__name__ if cmd.input else None,
        "created_at": cmd.now,
        "audit_id": cmd.audit_id,
        "events": [],
        "published": True,
    }
    if cmd.trace:
        record["trace"] = cmd.trace
    if cmd.input is None:
        transaction.create(outbox_ref, {**record, "status": "ignored", "reason": cmd.note})
        _index(transaction, db, cmd)
        return LedgerResult(LedgerStatus.IGNORED, cmd.note)
    if sub is None or sub_ref is None:
        return LedgerResult(LedgerStatus.NO_SUBSCRIPTION, "subscription not known yet")
    charge_ref, charge_doc = _reported_charge(transaction, db, cmd)
    if charge_doc is not None and charge_doc.get("status") == charges.outcome_of(cmd.input):
        return LedgerResult(
            LedgerStatus.DUPLICATE,
            f"charge outcome already recorded by {charge_doc.get('recorded_by')}",
            subscription=sub,
        )
    outcome = apply(sub, cmd.input, cmd.now)
    status = _STATUS[outcome.kind]
    claim = None
    if cmd.claim_charge and outcome.applied and outcome.charge is not None:
        claim = _claim(transaction, db, outcome.charge, sub.provider, cmd.now)
    events = outcome.events
    record.update(
        status=status.value,
        reason=outcome.reason,
        events=[e.model_dump_json() for e in events],
        published=not events,
    )
    if claim is not None and outcome.charge is not None:
        record["charge_id"] = outcome.charge.idempotency_key
    transaction.create(outbox_ref, record)
    if outcome.applied:
        transaction.set(sub_ref, stored_subscription(outcome.subscription))
        # Reference index entries only where they can be new: a subscription seen for
        # the first time, or money that moved (refunds and disputes look charges up).
        created = not snaps[sub_ref.path].exists
        money = isinstance(cmd.input, CheckoutCompleted | PaymentSucceeded)
        _index(transaction, db, cmd, refs=created or money)
    if charge_ref is not None and charge_doc is not None and _overwrites(charge_doc, cmd):
        fields = charges.outcome_fields(cmd.input, cmd.source, status.value, cmd.now)
        transaction.update(charge_ref, fields)
    return LedgerResult(
        status,
        outcome.reason,
        outbox_id=cmd.dedupe_key if events else None,
        events=events,
        subscription=outcome.subscription,
        charge=outcome.charge,
        claim=claim,
    )


def _reported_charge(
    transaction: firestore.Transaction, db: firestore.Client, cmd: LedgerCommand
) -> tuple[Any, dict[str, Any] | None]:
    """The claimed charge a payment outcome reports on, if we claimed it."""
    charge_id = charges.payment_charge_id(cmd.input)
    if charge_id is None:
        return None, None
    ref = db.collection(CHARGES).document(charge_id)
    snap = ref.get(transaction=transaction)
    return ref, (snap.to_dict() or {}) if snap.exists else None


def _overwrites(charge_doc: dict[str, Any], cmd: LedgerCommand) -> bool:
    """A pending charge takes the first outcome; a success (money moved) beats a decline."""
    assert cmd.input is not None
    return charge_doc.get("status") in (None, charges.PENDING) or (
        charges.outcome_of(cmd.input) == charges.SUCCEEDED
    )


def _claim(
    transaction: firestore.Transaction,
    db: firestore.Client,
    charge: ChargeRequest,
    provider: str,
    now: datetime,
) -> str:
    """Create the charge record, or report the existing one (a re-drive of the same key)."""
    ref = db.collection(CHARGES).document(charge.idempotency_key)
    snap = ref.get(transaction=transaction)
    if not snap.exists:
        transaction.create(ref, charges.claim_document(charge, provider, now))
        return "created"
    transaction.update(ref, {"drives": firestore.Increment(1), "redriven_at": now})
    return str((snap.to_dict() or {}).get("status") or charges.PENDING)


def _index(
    transaction: firestore.Transaction,
    db: firestore.Client,
    cmd: LedgerCommand,
    refs: bool = True,
) -> None:
    if cmd.customer is not None and cmd.account_id:
        fields = {
            k: v
            for k, v in (
                ("email", cmd.customer.email),
                ("name", cmd.customer.name),
                ("locale", cmd.customer.locale),
                ("market", cmd.customer.market),
            )
            if v
        }
        if fields:
            transaction.set(db.collection(CUSTOMERS).document(cmd.account_id), fields, merge=True)
    if cmd.subscription_id and refs:
        for ref in cmd.refs:
            transaction.set(
                db.collection(PROVIDER_REFS).document(ref_doc_id(ref)),
                {"subscription_id": cmd.subscription_id, "at": cmd.now},
            )


def events_of(record: dict[str, Any]) -> tuple[DomainEvent, ...]:
    return tuple(DomainEvent.model_validate_json(raw) for raw in record.get("events") or [])


def trace_of(record: dict[str, Any]) -> str | None:
    """The trace of the request that wrote an outbox entry, if it had one."""
    trace = record.get("trace")
    return trace if isinstance(trace, str) and trace else None


def published_marker(now: datetime) -> dict[str, Any]:
    return {"published": True, "published_at": now}
