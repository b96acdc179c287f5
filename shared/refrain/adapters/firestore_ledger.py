"""The ledger over Firestore: load, decide (refrain.ledger.decide), write; one transaction.

Reads (2): the dedupe/outbox record and the subscription, in one round trip.
Writes: the dedupe/outbox record (always, create-only), the subscription and its
entry in the account's entitlement document (a merge, no read; when the state
changed), the customer's contact details (checkout only) and provider
reference index entries (checkout and successful payments only). One commit.

Charges (see refrain.domain.charges for the rules, refrain.adapters.firestore_charges
for the record): a payment outcome that names a claimed charge also reads
`charges/{charge_id}` (third read) and, unless it repeats the recorded outcome,
writes its outcome onto the charge in the same commit. With `claim_charge` the
renewal worker's RenewalDue creates the charge record (create precondition) in
the same commit as the state change.

The dedupe record is the outbox entry (refrain.adapters.firestore_outbox).

Every key here (dedupe key, subscription id, account id, provider reference,
charge id) may come from outside; each becomes its document id through
``firestore_collections.keyed`` (injective, invariant 11), never as it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from google.api_core.exceptions import Aborted, AlreadyExists, Conflict
from google.cloud import firestore

from refrain.adapters import firestore_charges as charge_docs
from refrain.adapters.document_ids import document_id
from refrain.adapters.firestore_collections import (
    CHARGES,
    CUSTOMERS,
    ENTITLEMENTS,
    OUTBOX,
    PROVIDER_REFS,
    REFUNDS,
    SUBSCRIPTIONS,
    keyed,
)
from refrain.adapters.firestore_outbox import entry_document
from refrain.adapters.firestore_shards import shard_of
from refrain.domain import charges
from refrain.domain.charges import RecordedCharge
from refrain.domain.entitlement import SubscriptionAccess
from refrain.domain.inputs import ChargebackOpened, DisputeClosed, RefundIssued
from refrain.domain.machine import next_deadline
from refrain.domain.refunds import RefundTally, tally_key
from refrain.domain.subscription import Subscription
from refrain.ledger import Decision, LedgerCommand, LedgerResult, LedgerStatus, Loaded, decide
from refrain.privacy.retention import CUSTOMER_RETENTION

DUE_SHARD = "due_shard"


def stored_subscription(sub: Subscription) -> dict[str, Any]:
    """The aggregate plus typed copies of the fields that queries filter on."""
    doc = sub.to_dict()
    doc["next_charge_ts"] = sub.next_charge_at
    # The renewal tick's query field: the earliest of next charge, grace end, hold end, resume,
    # indexed after the subscription's shard (refrain.adapters.firestore_shards).
    doc["next_deadline_ts"] = next_deadline(sub)
    doc[DUE_SHARD] = shard_of(sub.subscription_id)
    doc["state"] = sub.state.value
    doc["billing_mode"] = sub.billing_mode.value
    return doc


def entitlement_entry(access: SubscriptionAccess) -> dict[str, Any]:
    """A merge into ``entitlements/{account}`` that replaces this subscription's entry only."""
    key = document_id(access.subscription_id)  # a map key Firestore accepts, injective
    return {"account_id": access.account_id, "subscriptions": {key: access.to_dict()}}


def ref_doc_id(ref: str) -> str:
    """The `provider_refs` document id of a provider reference: injective, so never shared."""
    return document_id(ref)


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
                if keyed(self.db, OUTBOX, command.dedupe_key).get().exists:
                    return LedgerResult(LedgerStatus.DUPLICATE, "processed concurrently")
                time.sleep(0.2)
            raise


@firestore.transactional
def _apply_in(
    transaction: firestore.Transaction, db: firestore.Client, cmd: LedgerCommand
) -> LedgerResult:
    loaded = _load(transaction, db, cmd)
    decision = decide(cmd, loaded)
    existing_claim = None
    if decision.claim is not None:  # the renewal worker's third read, before any write
        existing_claim = _recorded(
            _charge_ref(db, decision.claim.charge.idempotency_key).get(transaction=transaction)
        )
        decision = decision.claimed(existing_claim)
    _write(transaction, db, cmd, decision, existing_claim)
    return decision.result


def _load(transaction: firestore.Transaction, db: firestore.Client, cmd: LedgerCommand) -> Loaded:
    """The dedupe record and the subscription in one round trip; then the reported charge."""
    outbox_ref = keyed(db, OUTBOX, cmd.dedupe_key)
    refs = [outbox_ref]
    if cmd.subscription_id is not None:
        refs.append(keyed(db, SUBSCRIPTIONS, cmd.subscription_id))
    tally_ref = None
    if isinstance(
        cmd.input, RefundIssued | ChargebackOpened | DisputeClosed
    ):  # a refund also reads its payment's tally
        tally_ref = keyed(db, REFUNDS, tally_key(cmd.input))
        refs.append(tally_ref)
    snaps = {snap.reference.path: snap for snap in transaction.get_all(refs)}
    seen = snaps[outbox_ref.path]
    if seen.exists:
        return Loaded(seen=True, seen_status=(seen.to_dict() or {}).get("status"))
    sub = None
    if cmd.subscription_id is not None and snaps[refs[1].path].exists:
        sub = Subscription.from_dict(snaps[refs[1].path].to_dict() or {})
    tally = None
    if tally_ref is not None and snaps[tally_ref.path].exists:
        tally = RefundTally.from_dict(snaps[tally_ref.path].to_dict() or {})
    charge = None
    charge_id = charges.payment_charge_id(cmd.input)
    known = cmd.subscription_id is not None and (sub is not None or cmd.draft is not None)
    if cmd.input is not None and charge_id is not None and known:
        charge = _recorded(_charge_ref(db, charge_id).get(transaction=transaction))
    return Loaded(subscription=sub, charge=charge, tally=tally)


def _write(
    transaction: firestore.Transaction,
    db: firestore.Client,
    cmd: LedgerCommand,
    decision: Decision,
    existing_claim: RecordedCharge | None,
) -> None:
    if decision.entry is None:
        return
    outbox_ref = keyed(db, OUTBOX, cmd.dedupe_key)
    transaction.create(outbox_ref, entry_document(decision.entry, cmd.dedupe_key))
    if decision.subscription is not None:
        sub = decision.subscription
        sub_ref = keyed(db, SUBSCRIPTIONS, sub.subscription_id)
        transaction.set(sub_ref, stored_subscription(sub))
    # The profile lives CUSTOMER_RETENTION past the last change to any of the account's
    # subscriptions (refrain.privacy.retention): each such commit moves its expire_at.
    profile_expiry = {"expire_at": cmd.now + CUSTOMER_RETENTION}
    if decision.entitlement is not None:
        account_id, entry = decision.entitlement.account_id, entitlement_entry(decision.entitlement)
        transaction.set(keyed(db, ENTITLEMENTS, account_id), entry, merge=True)
        if decision.contact is None or decision.contact[0] != account_id:
            transaction.set(keyed(db, CUSTOMERS, account_id), profile_expiry, merge=True)
    if decision.contact is not None:
        account_id, details = decision.contact
        transaction.set(keyed(db, CUSTOMERS, account_id), {**details, **profile_expiry}, merge=True)
    for ref in decision.refs:
        index_entry = {"subscription_id": cmd.subscription_id, "at": cmd.now}
        transaction.set(db.collection(PROVIDER_REFS).document(ref_doc_id(ref)), index_entry)
    if decision.refund_tally is not None:
        key, tally = decision.refund_tally
        transaction.set(keyed(db, REFUNDS, key), tally.to_dict())
    _write_charges(transaction, db, cmd, decision, existing_claim)


def _write_charges(
    transaction: firestore.Transaction,
    db: firestore.Client,
    cmd: LedgerCommand,
    decision: Decision,
    existing_claim: RecordedCharge | None,
) -> None:
    """Create the claim (or count its re-drive); record a payment outcome on its charge."""
    if decision.claim is not None:
        claim = decision.claim
        claim_ref = _charge_ref(db, claim.charge.idempotency_key)
        if existing_claim is None:
            doc = charge_docs.claim_document(claim.charge, claim.provider, cmd.now)
            transaction.create(claim_ref, doc)
        else:
            redrive = {"drives": firestore.Increment(1), "redriven_at": cmd.now}
            transaction.update(claim_ref, redrive)
    if decision.charge_outcome is not None:
        assert cmd.input is not None
        status = decision.result.status.value
        fields = charge_docs.outcome_fields(cmd.input, cmd.source, status, cmd.now, cmd.refs)
        transaction.update(_charge_ref(db, decision.charge_outcome), fields)


def _charge_ref(db: firestore.Client, charge_id: str) -> firestore.DocumentReference:
    return keyed(db, CHARGES, charge_id)


def _recorded(snap: Any) -> RecordedCharge | None:
    """A charge record as the reconciliation rules see it (None: no record)."""
    if not snap.exists:
        return None
    data = snap.to_dict() or {}
    return RecordedCharge(data.get("status"), data.get("recorded_by"))
