"""The ledger: apply one input to one subscription, exactly once, with its outbox.

The unit of work of every state change. The webhook, the renewal worker and
customer care all go through it, so every change is deduplicated, ordered by
the state machine, and commits together with the domain events it produced
(transactional outbox). An implementation does three steps in one transaction:

1. load: the dedupe record, the subscription, and the claimed charge a payment
   outcome reports on, as plain values (:class:`Loaded`);
2. decide: :func:`decide`, pure, says what to write (:class:`Decision`);
3. write: the decision, in one commit.

Implemented over Firestore in refrain.adapters.firestore_ledger; tests hold it and
their in-memory twin to one contract (tests/integration/ledger).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from refrain.domain import charges, disputes, refunds
from refrain.domain.charges import RecordedCharge
from refrain.domain.customer import CustomerDetails
from refrain.domain.entitlement import SubscriptionAccess, access_of
from refrain.domain.events import DomainEvent
from refrain.domain.inputs import (
    ChargebackOpened,
    CheckoutCompleted,
    DisputeClosed,
    Input,
    PaymentSucceeded,
    RefundIssued,
)
from refrain.domain.machine import apply
from refrain.domain.money import Money
from refrain.domain.outcome import ChargeRequest, OutcomeKind
from refrain.domain.subscription import Subscription


class LedgerStatus(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this dedupe key was processed before: nothing changes
    STALE = "stale"  # older than what we know: recorded, no state change
    ILLEGAL = "illegal"  # not allowed now: recorded with the reason, no state change
    IGNORED = "ignored"  # nothing to apply (recorded so redeliveries are cheap)
    NO_SUBSCRIPTION = "no_subscription"  # nothing to apply it to yet: not recorded


@dataclass(frozen=True, slots=True)
class LedgerCommand:
    dedupe_key: str
    subscription_id: str | None
    input: Input | None
    now: datetime
    source: str
    draft: Subscription | None = None
    customer: CustomerDetails | None = None
    account_id: str | None = None
    refs: tuple[str, ...] = ()
    note: str | None = None
    audit_id: str | None = None
    # Renewal worker: when the outcome requests a charge, claim `charges/{idempotency key}` in
    # the same transaction (created if absent; an existing pending claim is a re-drive).
    claim_charge: bool = False
    # The Cloud Logging trace of the request that caused this input, stored on the outbox
    # entry so the sweep publishes its events with the same trace as the fast path.
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class LedgerResult:
    status: LedgerStatus
    reason: str | None = None
    outbox_id: str | None = None
    events: tuple[DomainEvent, ...] = field(default=())
    subscription: Subscription | None = None
    charge: ChargeRequest | None = None
    # With claim_charge: "created" (new claim), or the existing claim's status
    # ("pending" = re-drive with the same key; "succeeded"/"declined" = already decided).
    claim: str | None = None
    # This command created the subscription (what was parked waiting for it can now apply).
    created: bool = False


class Ledger(Protocol):
    def apply(self, command: LedgerCommand) -> LedgerResult: ...

    def resolve_ref(self, ref: str) -> str | None:
        """Our subscription id for a provider object reference, if indexed."""
        ...


# -- load, decide ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Loaded:
    """What the load step read for one command, as plain values."""

    seen: bool = False  # the dedupe record exists
    seen_status: str | None = None  # ...and the status it recorded
    subscription: Subscription | None = None  # as stored (None: not stored yet)
    charge: RecordedCharge | None = None  # the claimed charge a payment outcome reports on
    tally: refunds.RefundTally | None = None  # a refund's payment: what was given back


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """The dedupe record, which is also the outbox entry: what was decided, with its events."""

    source: str
    subscription_id: str | None
    input_type: str | None
    created_at: datetime
    status: str
    reason: str | None
    events: tuple[DomainEvent, ...] = ()
    published: bool = True  # nothing to publish, or published already
    audit_id: str | None = None
    trace: str | None = None
    charge_id: str | None = None  # the charge claimed with it


@dataclass(frozen=True, slots=True)
class ChargeClaim:
    """`charges/{idempotency key}` to create with the state change (or a re-drive of it)."""

    charge: ChargeRequest
    provider: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What one command writes; ``entry`` None: nothing at all."""

    result: LedgerResult
    entry: OutboxEntry | None = None
    subscription: Subscription | None = None  # the aggregate to store
    claim: ChargeClaim | None = None
    charge_outcome: str | None = None  # the claimed charge that records this payment outcome
    contact: tuple[str, dict[str, str]] | None = None  # (account id, details to merge)
    refs: tuple[str, ...] = ()  # provider references to index to the subscription
    refund_tally: tuple[str, refunds.RefundTally] | None = None  # (tally key, tally to store)
    # The stored subscription's entry in its account's entitlement document, written in the
    # same commit (refrain.domain.entitlement): the account API's one-read answer.
    entitlement: SubscriptionAccess | None = None

    def claimed(self, existing: RecordedCharge | None) -> Decision:
        """The decision once the claimed charge was read (None: no record yet, it is created)."""
        return replace(self, result=replace(self.result, claim=charges.claim_status(existing)))


_STATUS = {
    OutcomeKind.APPLIED: LedgerStatus.APPLIED,
    OutcomeKind.DUPLICATE: LedgerStatus.DUPLICATE,
    OutcomeKind.STALE: LedgerStatus.STALE,
    OutcomeKind.ILLEGAL: LedgerStatus.ILLEGAL,
}


def decide(cmd: LedgerCommand, loaded: Loaded) -> Decision:
    """The state machine and the reconciliation rules over what was loaded; no I/O.

    A command with ``claim_charge`` whose outcome requests a charge returns a
    :class:`ChargeClaim`; the caller reads that charge and completes the
    decision with :meth:`Decision.claimed` before writing.
    """
    if loaded.seen:
        return Decision(LedgerResult(LedgerStatus.DUPLICATE, f"already {loaded.seen_status}"))
    if cmd.input is None:
        ignored = _entry(cmd, LedgerStatus.IGNORED, cmd.note)
        contact, refs = _index(cmd)
        result = LedgerResult(LedgerStatus.IGNORED, cmd.note)
        return Decision(result, ignored, contact=contact, refs=refs)
    sub = loaded.subscription or cmd.draft
    if cmd.subscription_id is None or sub is None:
        return Decision(LedgerResult(LedgerStatus.NO_SUBSCRIPTION, "subscription not known yet"))
    if loaded.charge is not None and charges.repeats(loaded.charge, cmd.input):
        reason = f"charge outcome already recorded by {loaded.charge.recorded_by}"
        return Decision(LedgerResult(LedgerStatus.DUPLICATE, reason, subscription=sub))
    inp, tally = cmd.input, None
    if isinstance(inp, ChargebackOpened | DisputeClosed):
        # One step of a dispute is applied once (providers repeat: refrain.domain.disputes).
        if isinstance(inp, ChargebackOpened):
            after, why = disputes.record_opening(loaded.tally, inp)
        else:
            after, why = disputes.record_closing(loaded.tally, inp)
        tally = (refunds.tally_key(inp), after)
        if why is not None:
            ignored = _entry(cmd, LedgerStatus.IGNORED, why)
            return Decision(LedgerResult(LedgerStatus.IGNORED, why, subscription=sub), ignored)
    if isinstance(inp, RefundIssued):
        # Credit only what this report adds to the payment's refunds (refrain.domain.refunds).
        try:
            adds, after, why = refunds.credit(loaded.tally, inp)
        except refunds.RefundRefused as exc:
            illegal = _entry(cmd, LedgerStatus.ILLEGAL, str(exc))
            return Decision(LedgerResult(LedgerStatus.ILLEGAL, str(exc)), illegal)
        tally = (refunds.tally_key(inp), after)
        if adds == 0:
            ignored = _entry(cmd, LedgerStatus.IGNORED, why)
            result = LedgerResult(LedgerStatus.IGNORED, why, subscription=sub)
            return Decision(result, ignored, refund_tally=tally)
        inp = replace(inp, amount=Money(adds, inp.amount.currency))
    outcome = apply(sub, inp, cmd.now)
    status = _STATUS[outcome.kind]
    claim = None
    if cmd.claim_charge and outcome.applied and outcome.charge is not None:
        claim = ChargeClaim(outcome.charge, sub.provider)
    events = outcome.events
    entry = _entry(
        cmd,
        status,
        outcome.reason,
        events=events,
        charge_id=claim.charge.idempotency_key if claim else None,
    )
    contact, refs = None, ()
    created = outcome.applied and loaded.subscription is None
    if outcome.applied:
        # Reference index entries only where they can be new: a subscription seen for
        # the first time, or money that moved (refunds and disputes look charges up).
        money = isinstance(cmd.input, CheckoutCompleted | PaymentSucceeded)
        contact, refs = _index(cmd, refs=created or money)
    charge_outcome = None
    if loaded.charge is not None and charges.overwrites(loaded.charge, cmd.input):
        charge_outcome = charges.payment_charge_id(cmd.input)
    result = LedgerResult(
        status,
        outcome.reason,
        outbox_id=cmd.dedupe_key if events else None,
        events=events,
        subscription=outcome.subscription,
        charge=outcome.charge,
        created=created,
    )
    return Decision(
        result,
        entry,
        subscription=outcome.subscription if outcome.applied else None,
        claim=claim,
        charge_outcome=charge_outcome,
        contact=contact,
        refs=refs,
        refund_tally=tally if outcome.applied else None,
        entitlement=access_of(outcome.subscription) if outcome.applied else None,
    )


def _entry(
    cmd: LedgerCommand,
    status: LedgerStatus,
    reason: str | None,
    *,
    events: tuple[DomainEvent, ...] = (),
    charge_id: str | None = None,
) -> OutboxEntry:
    return OutboxEntry(
        source=cmd.source,
        subscription_id=cmd.subscription_id,
        input_type=type(cmd.input).__name__ if cmd.input else None,
        created_at=cmd.now,
        status=status.value,
        reason=reason,
        events=events,
        published=not events,
        audit_id=cmd.audit_id,
        trace=cmd.trace or None,
        charge_id=charge_id,
    )


def _index(
    cmd: LedgerCommand, refs: bool = True
) -> tuple[tuple[str, dict[str, str]] | None, tuple[str, ...]]:
    """The customer's contact details and the provider references that come with a command."""
    details = cmd.customer.known() if cmd.customer is not None else {}
    contact = (cmd.account_id, details) if cmd.account_id and details else None
    return contact, cmd.refs if cmd.subscription_id and refs else ()
