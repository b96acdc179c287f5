"""Domain event -> signal row: every type, pseudonymity, determinism (with hypothesis)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refrain.churn.export import ChurnExporter, PoisonMessage
from refrain.churn.pseudonym import LOCAL_PEPPER, MissingPepper, Pseudonymizer, load_pepper
from refrain.churn.rows import SignalRow
from refrain.churn.transform import SKIPPED_EVENT_TYPES, SignalTransformer, Skip
from refrain.domain.events import DomainEvent, EventType, to_pubsub_message
from refrain.push_envelope import PushMessage
from tests.unit.churn.factory import T0, events, sample_event

PEPPER = b"unit-test-pepper-0123456789"
TRANSFORMER = SignalTransformer(Pseudonymizer(PEPPER))

EXPECTED = {
    EventType.ACTIVATED: "activated",
    EventType.RENEWED: "renewed",
    EventType.PAYMENT_FAILED: "payment_failed",
    EventType.PAST_DUE: "entered_grace",
    EventType.ON_HOLD: "on_hold",
    EventType.RECOVERED: "recovered",
    EventType.CANCEL_REQUESTED: "cancel_requested",
    EventType.CANCEL_REVERTED: "cancel_reverted",
    EventType.PLAN_CHANGED: "plan_changed",
    EventType.PAUSED: "paused",
    EventType.RESUMED: "resumed",
    EventType.CHARGE_REFUNDED: "refunded",
    EventType.CHARGE_DISPUTED: "chargeback",
    EventType.CHARGE_DISPUTE_CLOSED: "dispute_won",
    EventType.EXPIRED: "expired",
}


def row(event: DomainEvent) -> SignalRow:
    out = TRANSFORMER.transform(event)
    assert isinstance(out, SignalRow), out
    return out


def test_every_event_type_is_mapped_or_explicitly_skipped() -> None:
    assert set(EXPECTED) | set(SKIPPED_EVENT_TYPES) == set(EventType)
    assert not set(EXPECTED) & set(SKIPPED_EVENT_TYPES)
    for type_, signal in EXPECTED.items():
        assert row(sample_event(type_)).signal_type == signal
    for type_ in SKIPPED_EVENT_TYPES:
        assert isinstance(TRANSFORMER.transform(sample_event(type_)), Skip)


def test_failures_split_into_first_failure_and_dunning_retry() -> None:
    first = row(sample_event(EventType.PAYMENT_FAILED, failed_attempts=1))
    retry = row(sample_event(EventType.PAYMENT_FAILED, failed_attempts=3, attempt=3,
                             decline_category="expired_card", hard_decline=True))  # fmt: skip
    assert (first.signal_type, retry.signal_type) == ("payment_failed", "dunning_retry")
    assert (retry.decline_category, retry.hard_decline, retry.attempt) == ("expired_card", True, 3)
    odd = row(sample_event(EventType.PAYMENT_FAILED, decline_category="brand_new_category"))
    assert odd.decline_category == "other"


def test_recovery_from_hold_is_a_reactivation() -> None:
    assert row(sample_event(EventType.RECOVERED, from_state="on_hold")).signal_type == (
        "reactivated"
    )
    assert row(sample_event(EventType.RECOVERED, from_state="past_due")).signal_type == (
        "recovered"
    )


def test_cancel_requested_carries_reason_and_whether_it_is_scheduled() -> None:
    scheduled = row(sample_event(EventType.CANCEL_REQUESTED, reason="too_expensive"))
    assert (scheduled.reason, scheduled.cancel_at_period_end) == ("too_expensive", True)
    assert scheduled.period_end == T0 + timedelta(days=20)
    immediate = row(sample_event(EventType.CANCEL_REQUESTED, reason=None,
                                 effective_at=T0.isoformat()))  # fmt: skip
    assert (immediate.reason, immediate.cancel_at_period_end) == ("unknown", False)
    free_text = row(sample_event(EventType.CANCEL_REQUESTED, reason="Jane Doe hated it"))
    assert free_text.reason == "other"


def test_expired_churn_types_and_plan_change_direction() -> None:
    for churn in ("voluntary", "involuntary", "revoked"):
        got = row(sample_event(EventType.EXPIRED, churn_type=churn))
        assert (got.churn_type, got.tenure_days) == (churn, 400)
    down = row(sample_event(EventType.PLAN_CHANGED, direction="downgrade", plan="student_monthly"))
    assert (down.plan_change_direction, down.from_plan, down.plan) == (
        "downgrade", "individual_monthly", "student_monthly",
    )  # fmt: skip


def test_price_point_comes_from_the_catalog_and_unknown_plans_do_not_fail() -> None:
    got = row(sample_event(EventType.RENEWED))
    assert (got.price_minor, got.currency) == (13900, "SEK")
    retired = row(sample_event(EventType.RENEWED, plan="retired_plan"))
    assert retired.price_minor is None and retired.currency is None


def test_subscriber_key_is_the_hmac_of_the_account_id() -> None:
    import hashlib
    import hmac

    got = row(sample_event(EventType.RENEWED, account_id="acct_42"))
    assert got.subscriber_key == hmac.new(PEPPER, b"acct_42", hashlib.sha256).hexdigest()


@given(st.text(min_size=1, max_size=40), st.binary(min_size=16, max_size=32),
       st.binary(min_size=16, max_size=32))  # fmt: skip
def test_subscriber_key_deterministic_per_account_and_different_per_pepper(
    account: str, pepper_a: bytes, pepper_b: bytes
) -> None:
    a1, a2 = Pseudonymizer(pepper_a), Pseudonymizer(pepper_a)
    assert a1.subscriber_key(account) == a2.subscriber_key(account)
    assert a1.subscriber_key(account) != a1.subscriber_key(account + "x")
    if pepper_a != pepper_b:
        assert a1.subscriber_key(account) != Pseudonymizer(pepper_b).subscriber_key(account)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_any_valid_event_maps_to_a_row_or_an_explicit_skip(event: DomainEvent) -> None:
    out = TRANSFORMER.transform(event)
    if event.type in SKIPPED_EVENT_TYPES:
        assert isinstance(out, Skip)
        return
    assert isinstance(out, SignalRow)
    SignalRow.model_validate(out.model_dump())  # round-trips through the schema
    assert out == TRANSFORMER.transform(event)  # deterministic, signal_id included
    account = event.payload["account_id"]
    dumped = out.model_dump_json()
    assert account not in dumped and "acct_" not in dumped
    assert "account_id" not in out.model_dump()
    assert event.subscription_id not in (out.signal_id, out.subscription_key)


def test_signal_id_is_stable_per_event_and_distinct_per_sequence() -> None:
    a = row(sample_event(EventType.RENEWED, sequence=5))
    b = row(sample_event(EventType.RENEWED, sequence=6))
    again = SignalTransformer(Pseudonymizer(PEPPER)).transform(
        sample_event(EventType.RENEWED, sequence=5)
    )
    assert isinstance(again, SignalRow)
    assert a.signal_id == again.signal_id != b.signal_id


# pepper --------------------------------------------------------------------------


def test_pepper_is_required_outside_local_and_test() -> None:
    with pytest.raises(MissingPepper):
        load_pepper({})
    with pytest.raises(MissingPepper):
        load_pepper({"REFRAIN_SUBSCRIBER_PEPPER": "short"})
    assert load_pepper({}, local=True) == LOCAL_PEPPER.encode()
    assert load_pepper({"REFRAIN_ENVIRONMENT": "test"}) == LOCAL_PEPPER.encode()
    secret = "s" * 32
    assert load_pepper({"REFRAIN_SUBSCRIBER_PEPPER": secret}, local=True) == secret.encode()


# exporter (pure, in-memory sink) -----------------------------------------------------


class MemorySink:
    def __init__(self) -> None:
        self.rows: dict[str, SignalRow] = {}

    def write(self, rows: Any) -> Any:
        before = len(self.rows)
        self.rows.update({r.signal_id: r for r in rows})
        return type("R", (), {"inserted": len(self.rows) - before})()


def _message(event: DomainEvent, message_id: str = "m1") -> PushMessage:
    m = to_pubsub_message(event)
    return PushMessage(m.data, m.attributes, message_id)


def test_exporter_filters_by_type_attribute_without_parsing() -> None:
    sink = MemorySink()
    exporter = ChurnExporter(TRANSFORMER, sink)
    ignored = PushMessage(b"not even json", {"type": "invoice.paid"}, "m1")
    future = PushMessage(b"{}", {"type": "subscription.teleported"}, "m2")
    report = exporter.export([ignored, future, _message(sample_event(EventType.RENEWED), "m3")])
    assert (report.skipped, report.exported, report.poison) == (2, 1, [])
    assert report.done == ["m1", "m2", "m3"] and len(sink.rows) == 1


def test_poison_is_reported_in_batches_and_raised_on_push_without_writing() -> None:
    sink = MemorySink()
    exporter = ChurnExporter(TRANSFORMER, sink)
    bad = PushMessage(b"{broken", {"type": "subscription.renewed"}, "bad")
    wrong = _message(sample_event(EventType.RENEWED))
    tampered = PushMessage(wrong.data, {**wrong.attributes, "type": "subscription.paused"}, "t")
    report = exporter.export([bad, tampered, _message(sample_event(EventType.PAUSED), "ok")])
    assert report.poison == ["bad", "t"] and report.done == ["ok"]
    with pytest.raises(PoisonMessage):
        exporter.export_one(bad)
    assert len(sink.rows) == 1


def test_duplicates_in_one_batch_and_redeliveries_make_one_row() -> None:
    sink = MemorySink()
    exporter = ChurnExporter(TRANSFORMER, sink)
    message = _message(sample_event(EventType.ON_HOLD))
    assert exporter.export([message, message]).exported == 2
    assert exporter.export_one(message).inserted == 0
    assert len(sink.rows) == 1


def test_a_lost_dispute_is_its_own_signal_and_a_won_one_gives_access_back() -> None:
    lost = row(sample_event(EventType.CHARGE_DISPUTE_CLOSED, won=False, access_restored=False,
                            payment_method_blocked=True))  # fmt: skip
    assert (lost.signal_type, lost.amount_minor) == ("dispute_lost", 13900)
    back = row(sample_event(EventType.RECOVERED, from_state="expired"))
    assert back.signal_type == "reactivated"
