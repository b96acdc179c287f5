"""CareService's own logic with in-memory fakes: input building, duplicates, deferred publish."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

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
from refrain.domain.inputs import CheckoutCompleted
from refrain.domain.money import Money
from refrain.domain.subscription import BillingMode, Subscription
from refrain.ledger import LedgerStatus
from refrain.observability import get_logger
from refrain.outbox import OutboxPublisher
from refrain.renewals.messages import ChargeMessage
from tests.fakes.ledger import MemoryLedger
from tests.fakes.outbox import RecordingRelay

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
class FakeStore:
    ledger: MemoryLedger

    def subscription(self, subscription_id: str) -> Subscription | None:
        return self.ledger.subs.get(subscription_id)

    def entry_status(self, dedupe_key: str) -> str | None:
        entry = self.ledger.outbox.get(dedupe_key)
        return entry.status if entry else None


def service(relay: RecordingRelay | None = None) -> tuple[CareService, MemoryLedger]:
    ledger = MemoryLedger({"sub_1": active()})
    clock, log = FixedClock(NOW), get_logger("t")
    publisher = OutboxPublisher(relay or RecordingRelay(), ledger, clock, log)
    return CareService(ledger, FakeStore(ledger), publisher, clock, log=log), ledger


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
    care, ledger = service()
    with pytest.raises(CareError, match=message):
        care.perform(request_)
    assert ledger.commands == []


def test_unknown_subscription_never_reaches_the_ledger() -> None:
    care, ledger = service()
    with pytest.raises(CareError, match="no subscription 'sub_x'"):
        care.perform(CareRequest(Action.CANCEL, "sub_x", "r"))
    assert ledger.commands == []


def test_applied_action_is_published_then_marked() -> None:
    relay = RecordingRelay()
    care, ledger = service(relay)
    result = care.perform(CareRequest(Action.CANCEL, "sub_1", "r1", reason="price"))
    assert result.ok and result.published
    assert [e.type.value for e in result.events] == ["subscription.cancel_requested"]
    assert ledger.marked == [dedupe_key("sub_1", "r1")] == [relay.published[0][0]]
    assert ledger.commands[0].source == "care" and ledger.commands[0].now == NOW


def test_a_retry_with_the_same_request_id_reports_the_first_outcome() -> None:
    care, ledger = service()
    first = care.perform(CareRequest(Action.REVERT, "sub_1", "r1"))  # nothing to revert
    again = care.perform(CareRequest(Action.REVERT, "sub_1", "r1"))
    assert first.status is LedgerStatus.ILLEGAL and not first.ok
    assert again.status is LedgerStatus.DUPLICATE and again.previous_status == "illegal"
    assert not again.ok
    care.perform(CareRequest(Action.CANCEL, "sub_1", "r2"))
    assert care.perform(CareRequest(Action.CANCEL, "sub_1", "r2")).ok
    statuses = sorted(entry.status for entry in ledger.outbox.values())
    assert statuses == ["applied", "illegal"]  # one entry per request id


def test_publish_failure_leaves_the_entry_to_the_sweep() -> None:
    care, ledger = service(RecordingRelay(fail=True))
    result = care.perform(CareRequest(Action.PAUSE, "sub_1", "r1"))
    assert result.ok and not result.published and ledger.marked == []
    assert not ledger.outbox[dedupe_key("sub_1", "r1")].published  # left to the sweep
    assert ledger.subs["sub_1"].state.value == "paused"
    assert isinstance(ledger.commands[0].input, PauseRequested)


def test_dedupe_keys_keep_the_ids_as_they_are() -> None:
    # Storage encodes the key (invariant 11); the key itself keeps "a/b" apart from "a_b".
    assert dedupe_key("sub/1", "a/b") == "care:sub/1:a/b"
    assert dedupe_key("sub_1", "a/b") != dedupe_key("sub_1", "a_b")


@dataclass
class RecordingQueue:
    sent: list[ChargeMessage]

    def send(self, messages: Sequence[ChargeMessage]) -> None:
        self.sent.extend(messages)


def test_the_preview_shows_what_the_upgrade_then_claims_and_writes_nothing() -> None:
    svc, ledger = service()
    svc.charges = RecordingQueue([])
    request = CareRequest(Action.CHANGE_PLAN, "sub_1", "r-preview", plan="family_monthly")
    before = dict(ledger.outbox)
    shown = svc.preview(request)
    assert ledger.outbox == before and ledger.subs["sub_1"].upgrade is None  # nothing written
    assert shown.allowed and shown.direction == "upgrade" and shown.charge is not None
    assert shown.net is not None and shown.tax is not None
    assert shown.net.amount + shown.tax.amount == shown.charge.amount  # SE: VAT included
    assert shown.next_renewal_amount == load_catalog().offer("family_monthly", "SE").price
    done = svc.perform(CareRequest(Action.CHANGE_PLAN, "sub_1", "r-real", plan="family_monthly"))
    assert done.charge is not None and done.charge.amount == shown.charge  # the same charge
    assert len(svc.charges.sent) == 1  # queued for the renewal worker


def test_the_preview_of_a_downgrade_and_of_a_refused_change() -> None:
    svc, _ = service()
    down = svc.preview(CareRequest(Action.CHANGE_PLAN, "sub_1", "p1", plan="student_monthly"))
    sub = active()
    assert down.allowed and down.direction == "downgrade" and down.charge is None
    assert down.effective_at == sub.current_period_end
    same = svc.preview(CareRequest(Action.CHANGE_PLAN, "sub_1", "p2", plan="individual_monthly"))
    assert not same.allowed and same.reason == "already on plan individual_monthly"
    with pytest.raises(CareError, match="only a plan change"):
        svc.preview(CareRequest(Action.CANCEL, "sub_1", "p3"))


@dataclass
class FailingQueue:
    failures: int
    sent: list[ChargeMessage]

    def send(self, messages: Sequence[ChargeMessage]) -> None:
        if self.failures:
            self.failures -= 1
            raise TimeoutError("pubsub publish timed out")
        self.sent.extend(messages)


def test_an_upgrade_whose_charge_cannot_be_queued_is_recorded_and_queued_by_a_retry() -> None:
    svc, ledger = service()
    queue = FailingQueue(1, [])
    svc.charges = queue
    request = CareRequest(Action.CHANGE_PLAN, "sub_1", "r-up", plan="family_monthly")
    first = svc.perform(request)
    assert first.ok and first.charge_queued is False and queue.sent == []
    waiting = ledger.subs["sub_1"].upgrade
    assert waiting is not None  # recorded: the retry must not make a second one
    again = svc.perform(request)
    assert again.status is LedgerStatus.DUPLICATE and again.charge_queued is True
    assert [m.input_id for m in queue.sent] == [waiting.charge_id]
    assert ledger.subs["sub_1"].upgrade == waiting
