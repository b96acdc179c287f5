"""CareService's own logic with in-memory fakes: input building, duplicates, deferred publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from refrain.care.actions import (
    Action,
    CareError,
    CareRequest,
    CareService,
    build_input,
    dedupe_key,
)
from refrain.domain import PauseRequested, PlanChangeRequested, apply, load_catalog
from refrain.domain.clock import FixedClock, utc
from refrain.domain.events import DomainEvent
from refrain.domain.inputs import CheckoutCompleted
from refrain.domain.money import Money
from refrain.domain.subscription import BillingMode, Subscription
from refrain.ingest.ledger import LedgerCommand, LedgerResult, LedgerStatus
from refrain.observability import get_logger

T0 = utc(2025, 1, 1)
NOW = utc(2025, 1, 10)


def active(sub_id: str = "sub_1") -> Subscription:
    draft = Subscription.new(
        subscription_id=sub_id, account_id="acct_1", provider="stripe",
        billing_mode=BillingMode.MERCHANT_MANAGED, plan="individual_monthly", plan_rank=20,
        interval_months=1, market="SE", price=Money(13900, "SEK"), created_at=T0,
    )  # fmt: skip
    checkout = CheckoutCompleted(
        input_id="evt_1", occurred_at=T0, payment_method_ref="pm", paid=True,
        charge_id="ch_1", amount=Money(13900, "SEK"),
    )  # fmt: skip
    return apply(draft, checkout, T0).subscription


@dataclass
class FakeLedger:
    """Dedupe record + state machine, in memory (the Firestore one is tested on the emulator)."""

    subs: dict[str, Subscription]
    entries: dict[str, str] = field(default_factory=dict)
    commands: list[LedgerCommand] = field(default_factory=list)

    def apply(self, command: LedgerCommand) -> LedgerResult:
        self.commands.append(command)
        if command.dedupe_key in self.entries:
            return LedgerResult(LedgerStatus.DUPLICATE, "already seen")
        assert command.input is not None and command.subscription_id is not None
        outcome = apply(self.subs[command.subscription_id], command.input, command.now)
        status = LedgerStatus(outcome.kind.value)
        self.entries[command.dedupe_key] = status.value
        if outcome.applied:
            self.subs[command.subscription_id] = outcome.subscription
        outbox = command.dedupe_key if outcome.events else None
        return LedgerResult(status, outcome.reason, outbox, outcome.events, outcome.subscription)

    def resolve_ref(self, ref: str) -> str | None:
        return None


@dataclass
class FakeStore:
    ledger: FakeLedger
    marked: list[str] = field(default_factory=list)

    def subscription(self, subscription_id: str) -> Subscription | None:
        return self.ledger.subs.get(subscription_id)

    def entry_status(self, dedupe_key: str) -> str | None:
        return self.ledger.entries.get(dedupe_key)

    def mark_published(self, outbox_id: str, now: datetime) -> None:
        self.marked.append(outbox_id)


@dataclass
class FakeRelay:
    fail: bool = False
    published: list[tuple[str, tuple[DomainEvent, ...]]] = field(default_factory=list)

    def publish(
        self, outbox_id: str, events: tuple[DomainEvent, ...], trace: str | None = None
    ) -> bool:
        if self.fail:
            raise ConnectionError("pubsub down")
        self.published.append((outbox_id, events))
        return True


def service(relay: FakeRelay | None = None) -> tuple[CareService, FakeLedger, FakeStore]:
    ledger = FakeLedger({"sub_1": active()})
    store = FakeStore(ledger)
    care = CareService(ledger, store, relay or FakeRelay(), FixedClock(NOW), log=get_logger("t"))
    return care, ledger, store


def test_change_plan_is_priced_from_the_catalog_in_the_subscriptions_market() -> None:
    request = CareRequest(Action.CHANGE_PLAN, "sub_1", "r1", plan="duo_yearly")
    inp = build_input(request, active(), NOW, load_catalog())
    assert isinstance(inp, PlanChangeRequested)
    assert (inp.new_plan, inp.new_plan_rank, inp.new_interval_months) == ("duo_yearly", 35, 12)
    assert inp.new_price == Money(185000, "SEK") and inp.input_id == "care:r1"


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (CareRequest(Action.CHANGE_PLAN, "sub_1", "r", plan="platinum"), "unknown plan"),
        (CareRequest(Action.CHANGE_PLAN, "sub_1", "r"), "needs a plan id"),
        (
            CareRequest(Action.PAUSE, "sub_1", "r", resume_at=NOW - timedelta(days=1)),
            "resume_at must be after the pause",
        ),
    ],
)
def test_bad_requests_are_refused_before_the_ledger(request_: CareRequest, message: str) -> None:
    care, ledger, _ = service()
    with pytest.raises(CareError, match=message):
        care.perform(request_)
    assert ledger.commands == []


def test_unknown_subscription_never_reaches_the_ledger() -> None:
    care, ledger, _ = service()
    with pytest.raises(CareError, match="no subscription 'sub_x'"):
        care.perform(CareRequest(Action.CANCEL, "sub_x", "r"))
    assert ledger.commands == []


def test_applied_action_is_published_then_marked() -> None:
    relay = FakeRelay()
    care, ledger, store = service(relay)
    result = care.perform(CareRequest(Action.CANCEL, "sub_1", "r1", reason="price"))
    assert result.ok and result.published
    assert [e.type.value for e in result.events] == ["subscription.cancel_requested"]
    assert store.marked == [dedupe_key("sub_1", "r1")] == [relay.published[0][0]]
    assert ledger.commands[0].source == "care" and ledger.commands[0].now == NOW


def test_a_retry_with_the_same_request_id_reports_the_first_outcome() -> None:
    care, ledger, _ = service()
    first = care.perform(CareRequest(Action.REVERT, "sub_1", "r1"))  # nothing to revert
    again = care.perform(CareRequest(Action.REVERT, "sub_1", "r1"))
    assert first.status is LedgerStatus.ILLEGAL and not first.ok
    assert again.status is LedgerStatus.DUPLICATE and again.previous_status == "illegal"
    assert not again.ok
    care.perform(CareRequest(Action.CANCEL, "sub_1", "r2"))
    assert care.perform(CareRequest(Action.CANCEL, "sub_1", "r2")).ok
    assert sorted(ledger.entries.values()) == ["applied", "illegal"]  # one entry per request id


def test_publish_failure_leaves_the_entry_to_the_sweep() -> None:
    care, ledger, store = service(FakeRelay(fail=True))
    result = care.perform(CareRequest(Action.PAUSE, "sub_1", "r1"))
    assert result.ok and not result.published and store.marked == []
    assert ledger.subs["sub_1"].state.value == "paused"
    assert isinstance(ledger.commands[0].input, PauseRequested)


def test_dedupe_keys_are_document_ids() -> None:
    assert dedupe_key("sub/1", "a/b") == "care:sub_1:a_b"
