"""The in-memory ledger: refrain.ledger.decide over dicts, and the outbox it holds.

Load, decide, write, like FirestoreLedger, with the same pure decision, so
unit tests see the real rules (dedupe, state machine, charge claims and
reconciliation, reference index). tests/integration/ledger holds both to one
contract. It also serves the outbox port (marks, unpublished entries) and
records what it was asked (``commands``, ``lookups``, ``marked``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from refrain.adapters import firestore_charges as charge_docs
from refrain.domain.charges import RecordedCharge, payment_charge_id
from refrain.domain.entitlement import SubscriptionAccess, access_of
from refrain.domain.inputs import ChargebackOpened, DisputeClosed, RefundIssued
from refrain.domain.machine import next_deadline
from refrain.domain.refunds import RefundTally, tally_key
from refrain.domain.subscription import DUE_STATES, BillingMode, Subscription
from refrain.ledger import Decision, LedgerCommand, LedgerResult, Loaded, OutboxEntry, decide
from refrain.outbox import PendingEntry


@dataclass
class MemoryLedger:
    subs: dict[str, Subscription] = field(default_factory=dict)
    outbox: dict[str, OutboxEntry] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)  # firestore_charges shapes
    refs: dict[str, str] = field(default_factory=dict)  # provider reference -> subscription id
    customers: dict[str, dict[str, str]] = field(default_factory=dict)
    refunds: dict[str, RefundTally] = field(default_factory=dict)  # payment ref -> its refunds
    # account -> subscription id -> its entitlement entry (the entitlements document)
    entitlements: dict[str, dict[str, SubscriptionAccess]] = field(default_factory=dict)
    # The due query's index: next deadline of merchant-managed subscriptions in DUE_STATES.
    deadlines: dict[str, datetime | None] = field(default_factory=dict)
    commands: list[LedgerCommand] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)  # resolve_ref calls
    marked: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for sub in self.subs.values():
            self._index(sub)

    # -- Ledger ----------------------------------------------------------------------------

    def resolve_ref(self, ref: str) -> str | None:
        self.lookups.append(ref)
        return self.refs.get(ref)

    def apply(self, command: LedgerCommand) -> LedgerResult:
        with self._lock:
            self.commands.append(command)
            decision = decide(command, self._load(command))
            existing = None
            if decision.claim is not None:
                existing = _recorded(self.charges.get(decision.claim.charge.idempotency_key))
                decision = decision.claimed(existing)
            self._write(command, decision, existing)
            return decision.result

    # -- Outbox ----------------------------------------------------------------------------

    def mark_published(self, outbox_id: str, at: datetime, *, swept: bool = False) -> None:
        self.outbox[outbox_id] = replace(self.outbox[outbox_id], published=True)
        self.marked.append(outbox_id)

    def unpublished(self, created_before: datetime, limit: int) -> Iterator[PendingEntry]:
        waiting = sorted(
            (entry.created_at, key)
            for key, entry in self.outbox.items()
            if not entry.published and entry.created_at <= created_before
        )
        for _, key in waiting[:limit]:
            entry = self.outbox[key]
            yield PendingEntry(key, entry.events, entry.trace)

    # -- test helpers ----------------------------------------------------------------------

    def put(self, sub: Subscription) -> None:
        """Store a subscription as it is, with its entitlement entry (what seeding does)."""
        self.subs[sub.subscription_id] = sub
        self._index(sub)
        self._entitle(access_of(sub))

    def entitlement_entries(self, account_id: str) -> list[SubscriptionAccess]:
        """The account's entitlement document (what the account API reads)."""
        return list(self.entitlements.get(account_id, {}).values())

    def clear(self) -> None:
        for store in (self.subs, self.outbox, self.charges, self.refs, self.customers):
            store.clear()
        self.refunds.clear()
        self.entitlements.clear()
        for record in (self.commands, self.lookups, self.marked):
            record.clear()
        self.deadlines.clear()

    # -- load, write -----------------------------------------------------------------------

    def _load(self, cmd: LedgerCommand) -> Loaded:
        entry = self.outbox.get(cmd.dedupe_key)
        if entry is not None:
            return Loaded(seen=True, seen_status=entry.status)
        sub = self.subs.get(cmd.subscription_id) if cmd.subscription_id else None
        charge_id = payment_charge_id(cmd.input)
        charge = _recorded(self.charges.get(charge_id)) if charge_id else None
        tally = None
        if isinstance(cmd.input, RefundIssued | ChargebackOpened | DisputeClosed):
            tally = self.refunds.get(tally_key(cmd.input))
        return Loaded(subscription=sub, charge=charge, tally=tally)

    def _write(
        self, cmd: LedgerCommand, decision: Decision, existing_claim: RecordedCharge | None
    ) -> None:
        if decision.entry is None:
            return
        self.outbox[cmd.dedupe_key] = decision.entry
        if decision.subscription is not None:
            self.subs[decision.subscription.subscription_id] = decision.subscription
            self._index(decision.subscription)
        if decision.entitlement is not None:
            self._entitle(decision.entitlement)
        if decision.contact is not None:
            account_id, details = decision.contact
            self.customers.setdefault(account_id, {}).update(details)
        for ref in decision.refs:
            self.refs[ref] = str(cmd.subscription_id)
        if decision.refund_tally is not None:
            key, tally = decision.refund_tally
            self.refunds[key] = tally
        if decision.claim is not None:
            claim = decision.claim
            key = claim.charge.idempotency_key
            if existing_claim is None:
                self.charges[key] = charge_docs.claim_document(
                    claim.charge, claim.provider, cmd.now
                )
            else:
                self.charges[key].update(
                    drives=self.charges[key]["drives"] + 1, redriven_at=cmd.now
                )
        if decision.charge_outcome is not None:
            assert cmd.input is not None
            status = decision.result.status.value
            fields = charge_docs.outcome_fields(cmd.input, cmd.source, status, cmd.now, cmd.refs)
            self.charges[decision.charge_outcome].update(fields)

    def _entitle(self, access: SubscriptionAccess) -> None:
        self.entitlements.setdefault(access.account_id, {})[access.subscription_id] = access

    def _index(self, sub: Subscription) -> None:
        due = sub.billing_mode is BillingMode.MERCHANT_MANAGED and sub.state in DUE_STATES
        self.deadlines[sub.subscription_id] = next_deadline(sub) if due else None


def _recorded(doc: dict[str, Any] | None) -> RecordedCharge | None:
    return None if doc is None else RecordedCharge(doc.get("status"), doc.get("recorded_by"))
