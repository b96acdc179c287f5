"""One contract for the ledger: the Firestore ledger on the emulator and the in-memory twin.

Unit tests trust tests/fakes/ledger.py; these tests are why they may. Every case
runs against both backends; ``-k memory`` runs the fake alone, without emulators.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import pytest

from refrain.domain import load_catalog
from refrain.domain.clock import utc
from refrain.domain.customer import CustomerDetails
from refrain.domain.events import DomainEvent
from refrain.domain.inputs import (
    CancelRequested,
    CancelReverted,
    ChargebackOpened,
    CheckoutCompleted,
    DisputeClosed,
    Input,
    PaymentFailed,
    PaymentSucceeded,
    RefundIssued,
)
from refrain.domain.machine import due_timers
from refrain.domain.money import Money
from refrain.domain.outcome import ChargeRequest
from refrain.domain.subscription import BillingMode, State, Subscription
from refrain.ledger import Ledger, LedgerCommand, LedgerResult, LedgerStatus
from refrain_tools.renewals.population import active_subscription
from tests.fakes.ledger import MemoryLedger

T0 = utc(2025, 1, 1)
START = utc(2025, 3, 1)
DUE = utc(2025, 4, 1)
PRICE = Money(11900, "SEK")


@dataclass(frozen=True)
class Entry:
    """An outbox entry as both backends can show it."""

    status: str
    reason: str | None
    events: tuple[DomainEvent, ...]
    published: bool
    charge_id: str | None


class Backend(Protocol):
    @property
    def ledger(self) -> Ledger: ...

    def seed(self, sub: Subscription) -> None: ...

    def subscription(self, subscription_id: str) -> Subscription | None: ...

    def entry(self, dedupe_key: str) -> Entry | None: ...

    def charge(self, charge_id: str) -> dict[str, Any] | None: ...

    def customer(self, account_id: str) -> dict[str, Any] | None: ...

    def refunds(self, payment_ref: str) -> dict[str, Any] | None: ...

    def entitlement(self, account_id: str) -> dict[str, dict[str, Any]]:
        """The account's entitlement document: subscription id -> its entry."""
        ...

    def everything(self) -> dict[str, Any]:
        """Every stored record, to assert that a command wrote nothing."""
        ...


@dataclass
class MemoryBackend:
    ledger: MemoryLedger

    def seed(self, sub: Subscription) -> None:
        self.ledger.put(sub)

    def subscription(self, subscription_id: str) -> Subscription | None:
        return self.ledger.subs.get(subscription_id)

    def entry(self, dedupe_key: str) -> Entry | None:
        e = self.ledger.outbox.get(dedupe_key)
        return None if e is None else Entry(e.status, e.reason, e.events, e.published, e.charge_id)

    def charge(self, charge_id: str) -> dict[str, Any] | None:
        return self.ledger.charges.get(charge_id)

    def customer(self, account_id: str) -> dict[str, Any] | None:
        return self.ledger.customers.get(account_id)

    def refunds(self, payment_ref: str) -> dict[str, Any] | None:
        found = self.ledger.refunds.get(payment_ref)
        return None if found is None else found.to_dict()

    def entitlement(self, account_id: str) -> dict[str, dict[str, Any]]:
        return {e.subscription_id: e.to_dict() for e in self.ledger.entitlement_entries(account_id)}

    def everything(self) -> dict[str, Any]:
        stores = ("subs", "outbox", "charges", "refs", "customers", "refunds", "entitlements")
        return copy.deepcopy({name: getattr(self.ledger, name) for name in stores})


@dataclass
class FirestoreBackend:
    ledger: Ledger
    db: Any

    def seed(self, sub: Subscription) -> None:
        from refrain.adapters.firestore_renewals import seed_subscriptions

        seed_subscriptions(self.db, [sub])

    def _doc(self, collection: str, key: str) -> dict[str, Any] | None:
        from refrain.adapters.firestore_collections import keyed

        snap = keyed(self.db, collection, key).get()
        return (snap.to_dict() or {}) if snap.exists else None

    def subscription(self, subscription_id: str) -> Subscription | None:
        doc = self._doc("subscriptions", subscription_id)
        return None if doc is None else Subscription.from_dict(doc)

    def entry(self, dedupe_key: str) -> Entry | None:
        from refrain.adapters.firestore_outbox import events_of

        d = self._doc("outbox", dedupe_key)
        if d is None:
            return None
        return Entry(d["status"], d["reason"], events_of(d), d["published"], d.get("charge_id"))

    def charge(self, charge_id: str) -> dict[str, Any] | None:
        return self._doc("charges", charge_id)

    def customer(self, account_id: str) -> dict[str, Any] | None:
        """The contact details; the TTL's ``expire_at`` (a Firestore storage detail) is
        checked and left out, so both backends compare alike."""
        doc = self._doc("customers", account_id)
        if doc is not None:
            assert isinstance(doc.pop("expire_at"), datetime)
        return doc

    def refunds(self, payment_ref: str) -> dict[str, Any] | None:
        return self._doc("refunds", payment_ref)

    def entitlement(self, account_id: str) -> dict[str, dict[str, Any]]:
        entries = (self._doc("entitlements", account_id) or {}).get("subscriptions", {})
        return {e["subscription_id"]: e for e in entries.values()}

    def everything(self) -> dict[str, Any]:
        return {
            f"{c.id}/{snap.id}": snap.to_dict()
            for c in self.db.collections()
            for snap in c.stream()
        }


@pytest.fixture(params=["memory", "firestore"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return MemoryBackend(MemoryLedger())
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_ledger import FirestoreLedger

    db = build_firestore(request.getfixturevalue("cloud"))
    return FirestoreBackend(FirestoreLedger(db), db)


# -- commands ----------------------------------------------------------------------------------


def checkout_command(sub_id: str = "sub_1", event_id: str = "evt_checkout") -> LedgerCommand:
    offer = load_catalog().offer("individual_monthly", "SE")
    draft = Subscription.new(
        subscription_id=sub_id, account_id=f"acct_{sub_id}", provider="stripe",
        billing_mode=BillingMode.MERCHANT_MANAGED, plan=offer.plan.id, plan_rank=offer.plan.rank,
        interval_months=1, market="SE", price=offer.price, created_at=T0,
    )  # fmt: skip
    checkout = CheckoutCompleted(
        input_id=event_id, occurred_at=T0, payment_method_ref="pm_ok",
        paid=True, charge_id=f"ch_{sub_id}", amount=offer.price,
    )  # fmt: skip
    return LedgerCommand(
        dedupe_key=f"stripe:{event_id}",
        subscription_id=sub_id,
        input=checkout,
        now=T0,
        source="stripe",
        draft=draft,
        customer=CustomerDetails(email="ana@example.com", locale="sv_SE"),
        account_id=f"acct_{sub_id}",
        refs=(f"stripe:pi_{sub_id}", f"stripe:cus_{sub_id}"),
    )


def command(key: str, inp: Input | None, now: datetime, **extra: Any) -> LedgerCommand:
    return LedgerCommand(key, "sub_1", inp, now, extra.pop("source", "care"), **extra)


def renewal_claim(backend: Backend, at: datetime = DUE) -> LedgerResult:
    """The renewal worker's claim: RenewalDue with claim_charge (seeds the subscription first)."""
    if backend.subscription("sub_1") is None:
        backend.seed(active_subscription("sub_1", payment_method_ref="pm_ok", period_start=START))
    sub = backend.subscription("sub_1")
    assert sub is not None
    [timer] = due_timers(sub, at)
    return backend.ledger.apply(
        command(f"timer:{timer.input_id}", timer, at, source="renewal", claim_charge=True)
    )


def payment(
    kind: Callable[..., Input], charge: ChargeRequest, event_id: str, at: datetime = DUE
) -> Input:
    fields: dict[str, Any] = {
        "input_id": event_id,
        "occurred_at": at,
        "charge_id": charge.idempotency_key,
        "amount": charge.amount,
        "charge_period": charge.billing_anchor,
        "attempt": charge.attempt,
    }
    if kind is PaymentFailed:
        from refrain.domain import classify_stripe

        fields["decline"] = classify_stripe("card_declined", "insufficient_funds")
    return kind(**fields)


# -- the contract ------------------------------------------------------------------------------


def test_a_new_checkout_creates_the_subscription_and_its_outbox_entry(backend: Backend) -> None:
    result = backend.ledger.apply(checkout_command())
    assert result.status is LedgerStatus.APPLIED
    assert result.outbox_id == "stripe:evt_checkout"
    stored = backend.subscription("sub_1")
    assert stored is not None and stored.state is State.ACTIVE
    assert stored == result.subscription
    entry = backend.entry("stripe:evt_checkout")
    assert entry is not None and entry.status == "applied" and not entry.published
    assert entry.events == result.events
    assert [e.type.value for e in result.events] == ["subscription.activated", "invoice.paid"]
    assert backend.customer("acct_sub_1") == {"email": "ana@example.com", "locale": "sv_SE"}


def test_the_same_dedupe_key_again_is_a_duplicate_and_writes_nothing(backend: Backend) -> None:
    backend.ledger.apply(checkout_command())
    before = backend.everything()
    again = backend.ledger.apply(checkout_command())
    assert again.status is LedgerStatus.DUPLICATE and again.reason == "already applied"
    assert again.events == () and again.outbox_id is None
    assert backend.everything() == before


def test_an_unknown_subscription_without_a_draft_records_nothing(backend: Backend) -> None:
    paid = PaymentSucceeded(input_id="evt_pay", occurred_at=T0, charge_id="ch_x", amount=PRICE)
    empty = backend.everything()
    result = backend.ledger.apply(command("stripe:evt_pay", paid, T0, source="stripe"))
    assert result.status is LedgerStatus.NO_SUBSCRIPTION and result.events == ()
    assert backend.everything() == empty
    # Not recorded, so the provider's retry applies it once the subscription exists.
    backend.ledger.apply(checkout_command())
    retried = backend.ledger.apply(command("stripe:evt_pay", paid, T0, source="stripe"))
    assert retried.status is not LedgerStatus.DUPLICATE


def test_an_ignored_input_is_recorded_so_its_redelivery_is_a_duplicate(backend: Backend) -> None:
    ignored = command("stripe:evt_other", None, T0, note="unhandled type customer.created")
    result = backend.ledger.apply(ignored)
    assert result.status is LedgerStatus.IGNORED
    assert result.reason == "unhandled type customer.created" and result.events == ()
    entry = backend.entry("stripe:evt_other")
    assert entry == Entry("ignored", "unhandled type customer.created", (), True, None)
    assert backend.ledger.apply(ignored).status is LedgerStatus.DUPLICATE


def recorded_without_change(
    backend: Backend, key: str, inp: Input, now: datetime, status: LedgerStatus
) -> None:
    before = backend.subscription("sub_1")
    result = backend.ledger.apply(command(key, inp, now))
    assert result.status is status and result.reason and result.events == ()
    assert backend.subscription("sub_1") == before
    assert backend.entry(key) == Entry(status.value, result.reason, (), True, None)


def test_an_illegal_input_is_recorded_without_a_state_change(backend: Backend) -> None:
    backend.ledger.apply(checkout_command())
    at = T0 + timedelta(days=1)
    revert = CancelReverted(input_id="care:r1", occurred_at=at)  # nothing to revert
    recorded_without_change(backend, "care:r1", revert, at, LedgerStatus.ILLEGAL)


def test_a_stale_input_is_recorded_without_a_state_change(backend: Backend) -> None:
    backend.ledger.apply(checkout_command())
    at = T0 + timedelta(days=3)
    cancel = CancelRequested(input_id="care:r2", occurred_at=at)
    assert backend.ledger.apply(command("care:r2", cancel, at)).events
    older = CancelReverted(input_id="care:r3", occurred_at=at - timedelta(days=1))
    recorded_without_change(backend, "care:r3", older, at, LedgerStatus.STALE)


def test_references_of_a_checkout_resolve_to_its_subscription(backend: Backend) -> None:
    assert backend.ledger.resolve_ref("stripe:pi_sub_1") is None
    backend.ledger.apply(checkout_command())
    assert backend.ledger.resolve_ref("stripe:pi_sub_1") == "sub_1"
    assert backend.ledger.resolve_ref("stripe:cus_sub_1") == "sub_1"
    assert backend.ledger.resolve_ref("stripe:pi_other") is None


# Ids chosen outside (merchant references, provider ids): "/" and "_" differ, and none of
# ".", "..", "__x__", "\\", ":" or non-ASCII may break or merge documents (invariant 11).
OUTSIDE_IDS = ("a/b", "a_b", "..", "__x__", "c\\d:e", "å/ß.ü")


def test_identifiers_from_outside_keep_documents_of_their_own(backend: Backend) -> None:
    for sid in OUTSIDE_IDS:
        result = backend.ledger.apply(checkout_command(sub_id=sid, event_id=f"evt/{sid}"))
        assert result.status is LedgerStatus.APPLIED and result.outbox_id == f"stripe:evt/{sid}"
    for sid in OUTSIDE_IDS:
        stored = backend.subscription(sid)
        assert stored is not None and stored.subscription_id == sid
        assert backend.ledger.resolve_ref(f"stripe:pi_{sid}") == sid
        assert backend.customer(f"acct_{sid}") == {"email": "ana@example.com", "locale": "sv_SE"}
        entry = backend.entry(f"stripe:evt/{sid}")
        assert entry is not None and entry.status == "applied"
    again = backend.ledger.apply(checkout_command(sub_id="a/b", event_id="evt/a/b"))
    assert again.status is LedgerStatus.DUPLICATE


def test_a_claim_creates_the_charge_then_reports_it_on_a_redrive(backend: Backend) -> None:
    first = renewal_claim(backend)
    assert first.status is LedgerStatus.APPLIED and first.claim == "created"
    assert first.charge is not None
    key = first.charge.idempotency_key
    charge = backend.charge(key)
    assert charge is not None and (charge["status"], charge["drives"]) == ("pending", 1)
    assert charge["amount"] == first.charge.amount.amount
    entry = backend.entry(f"timer:{first.charge.subscription_id}:renewal_due:{DUE.isoformat()}")
    assert entry is not None and entry.charge_id == key and entry.events == first.events

    redrive = renewal_claim(backend, DUE + timedelta(hours=2))  # the charge lease ran out
    assert redrive.status is LedgerStatus.APPLIED and redrive.claim == "pending"
    assert redrive.charge is not None and redrive.charge.idempotency_key == key
    charge = backend.charge(key)
    assert charge is not None and (charge["status"], charge["drives"]) == ("pending", 2)


def claimed(backend: Backend) -> ChargeRequest:
    claim = renewal_claim(backend)
    assert claim.charge is not None and claim.claim == "created"
    return claim.charge


def report(
    backend: Backend, kind: Callable[..., Input], charge: ChargeRequest, source: str = "renewal"
) -> LedgerResult:
    """A payment outcome of a claimed charge, from the worker or from a provider's webhook."""
    if source == "renewal":
        event_id, key = charge.idempotency_key, f"charge:{charge.idempotency_key}"
    else:
        event_id = f"evt_{kind.__name__}"
        key = f"{source}:{event_id}"
    return backend.ledger.apply(command(key, payment(kind, charge, event_id), DUE, source=source))


def recorded(backend: Backend, charge: ChargeRequest) -> tuple[str, str]:
    doc = backend.charge(charge.idempotency_key)
    assert doc is not None
    return doc["status"], doc["recorded_by"]


def test_a_charge_outcome_reported_twice_is_a_duplicate(backend: Backend) -> None:
    charge = claimed(backend)
    assert report(backend, PaymentSucceeded, charge).status is LedgerStatus.APPLIED
    assert recorded(backend, charge) == ("succeeded", "renewal")
    before = backend.everything()
    again = report(backend, PaymentSucceeded, charge, source="stripe")
    assert again.status is LedgerStatus.DUPLICATE
    assert again.reason == "charge outcome already recorded by renewal"
    assert backend.everything() == before  # not even a dedupe record


def test_a_success_after_a_decline_overwrites_the_charge(backend: Backend) -> None:
    charge = claimed(backend)
    assert report(backend, PaymentFailed, charge).events
    assert recorded(backend, charge) == ("declined", "renewal")
    late = report(backend, PaymentSucceeded, charge, source="stripe")
    assert late.status is not LedgerStatus.DUPLICATE
    assert recorded(backend, charge) == ("succeeded", "stripe")


def test_a_decline_after_a_success_leaves_the_charge_alone(backend: Backend) -> None:
    charge = claimed(backend)
    assert report(backend, PaymentSucceeded, charge).events
    renewed = backend.subscription("sub_1")
    late = report(backend, PaymentFailed, charge, source="stripe")
    assert late.status is not LedgerStatus.APPLIED  # recorded, but money moved already
    assert backend.entry("stripe:evt_PaymentFailed") is not None
    assert recorded(backend, charge) == ("succeeded", "renewal")
    assert backend.subscription("sub_1") == renewed


def test_the_events_returned_are_the_outbox_entrys_events(backend: Backend) -> None:
    results = [backend.ledger.apply(checkout_command())]
    cancel = CancelRequested(input_id="care:r9", occurred_at=T0 + timedelta(days=1))
    results.append(backend.ledger.apply(command("care:r9", cancel, T0 + timedelta(days=1))))
    for result in results:
        assert result.outbox_id is not None and result.events
        entry = backend.entry(result.outbox_id)
        assert entry is not None and entry.events == result.events and not entry.published


def refund_report(event_id: str, amount: int, **extra: Any) -> LedgerCommand:
    at = T0 + timedelta(days=2)
    inp = RefundIssued(
        input_id=event_id, occurred_at=at, charge_id="pi_sub_1", payment_ref="pi_sub_1",
        amount=Money(amount, "SEK"), **extra,
    )  # fmt: skip
    return command(f"stripe:{event_id}", inp, at, source="stripe")


def test_a_refund_is_credited_once_whichever_reporter_comes_first(backend: Backend) -> None:
    backend.ledger.apply(checkout_command())
    total = Money(3_000, "SEK")
    first = backend.ledger.apply(refund_report("evt_r1", 3_000, refunded_total=total))
    [event] = first.events
    assert event.payload["amount"] == 3_000
    # The operator's own answer for the same refund: its id is new, the total is not.
    answer = refund_report("op_r1", 3_000, refunded_total=total, refund_id="re_1")
    second = backend.ledger.apply(answer)
    assert second.status is LedgerStatus.IGNORED and not second.events
    stored = backend.refunds("pi_sub_1")
    assert stored is not None
    assert (stored["credited"], stored["refund_ids"]) == (3_000, ["re_1"])
    assert backend.entry("stripe:op_r1") is not None  # recorded: its redelivery is a duplicate
    # A later refund on top credits only what it adds.
    third = backend.ledger.apply(refund_report("evt_r2", 900, refunded_total=Money(3_900, "SEK")))
    assert [e.payload["amount"] for e in third.events] == [900]


def test_a_refund_in_another_currency_than_its_payment_changes_nothing(backend: Backend) -> None:
    backend.ledger.apply(checkout_command())
    backend.ledger.apply(refund_report("evt_r1", 100, refund_id="psp_1"))
    tally, sub = backend.refunds("pi_sub_1"), backend.subscription("sub_1")
    eur = RefundIssued(
        input_id="evt_eur", occurred_at=T0, charge_id="pi_sub_1", payment_ref="pi_sub_1",
        amount=Money(100, "EUR"), refund_id="psp_2",
    )  # fmt: skip
    result = backend.ledger.apply(command("stripe:evt_eur", eur, T0, source="stripe"))
    assert result.status is LedgerStatus.ILLEGAL and not result.events
    assert (backend.refunds("pi_sub_1"), backend.subscription("sub_1")) == (tally, sub)


def test_a_dispute_opened_twice_is_recorded_once_and_a_won_one_gives_access_back(
    backend: Backend,
) -> None:
    backend.ledger.apply(checkout_command())
    at = T0 + timedelta(days=3)
    common: dict[str, Any] = {
        "charge_id": "ch_sub_1", "amount": PRICE, "dispute_id": "PSPDISPUTE000001",
        "payment_ref": "pi_sub_1",
    }  # fmt: skip
    notified = ChargebackOpened(input_id="n", occurred_at=at, **common)
    debited = ChargebackOpened(input_id="c", occurred_at=at, **common)
    first = backend.ledger.apply(command("adyen:n", notified, at, source="adyen"))
    assert [e.type.value for e in first.events] == ["charge.disputed", "subscription.expired"]
    second = backend.ledger.apply(command("adyen:c", debited, at, source="adyen"))
    assert second.status is LedgerStatus.IGNORED and not second.events
    stored = backend.refunds("pi_sub_1")
    assert stored is not None and stored["disputes"]["PSPDISPUTE000001"]["status"] == "open"
    won = DisputeClosed(input_id="w", occurred_at=at + timedelta(days=5), won=True, **common)
    result = backend.ledger.apply(command("adyen:w", won, at + timedelta(days=5), source="adyen"))
    assert [e.type.value for e in result.events] == [
        "charge.dispute_closed", "subscription.recovered",
    ]  # fmt: skip
    sub = backend.subscription("sub_1")
    assert sub is not None and sub.state is State.ACTIVE
    stored = backend.refunds("pi_sub_1")
    assert stored is not None and stored["disputes"]["PSPDISPUTE000001"]["status"] == "won"


# -- the entitlement document ---------------------------------------------------------------


def test_the_commit_that_changes_a_subscription_writes_its_entitlement_entry(
    backend: Backend,
) -> None:
    backend.ledger.apply(checkout_command())
    [entry] = backend.entitlement("acct_sub_1").values()
    stored = backend.subscription("sub_1")
    assert stored is not None
    assert (entry["has_access"], entry["reason"], entry["plan"], entry["state"]) == (
        True, "active", "individual_monthly", "active",
    )  # fmt: skip
    assert stored.current_period_end is not None
    assert entry["until"] == stored.current_period_end.isoformat()
    cancel = CancelRequested(input_id="care:e1", occurred_at=T0 + timedelta(days=1))
    backend.ledger.apply(command("care:sub_1:e1", cancel, T0 + timedelta(days=1)))
    after = backend.entitlement("acct_sub_1")["sub_1"]
    assert (after["reason"], after["ends_at_until"]) == ("cancelled_at_period_end", True)
    assert after["version"] == (backend.subscription("sub_1") or stored).version


def test_an_illegal_input_leaves_the_entitlement_as_it_was(backend: Backend) -> None:
    backend.ledger.apply(checkout_command())
    before = backend.entitlement("acct_sub_1")
    revert = CancelReverted(input_id="care:e2", occurred_at=T0 + timedelta(days=1))
    result = backend.ledger.apply(command("care:sub_1:e2", revert, T0 + timedelta(days=1)))
    assert result.status is LedgerStatus.ILLEGAL
    assert backend.entitlement("acct_sub_1") == before


def test_each_subscription_of_an_account_keeps_its_own_entry(backend: Backend) -> None:
    first, second = checkout_command("sub_a", "evt_a"), checkout_command("sub_b", "evt_b")
    backend.ledger.apply(replace(first, draft=replace(first.draft, account_id="acct_x")))  # type: ignore[type-var]
    backend.ledger.apply(replace(second, draft=replace(second.draft, account_id="acct_x")))  # type: ignore[type-var]
    cancel = CancelRequested(input_id="care:e3", occurred_at=T0 + timedelta(days=1))
    backend.ledger.apply(
        LedgerCommand("care:sub_b:e3", "sub_b", cancel, T0 + timedelta(days=1), "care")
    )
    entries = backend.entitlement("acct_x")
    assert {k: v["reason"] for k, v in entries.items()} == {
        "sub_a": "active", "sub_b": "cancelled_at_period_end",
    }  # fmt: skip
