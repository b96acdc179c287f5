"""churn_export and feature_snapshot against bqemulator and the Pub/Sub emulator."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner
from cloudevents.http import CloudEvent
from google.cloud import bigquery

from refrain.adapters.bigquery import build_bigquery
from refrain.adapters.bigquery_signals import SnapshotWriter
from refrain.adapters.pubsub import OrderedPublisher, build_publisher
from refrain.churn.export import PoisonMessage
from refrain.domain.events import DomainEvent, EventType, to_pubsub_message
from refrain.push_envelope import PushMessage
from refrain.settings import CloudSettings
from refrain.topology import ANALYTICS_DATASET, SUBSCRIPTION_EVENTS
from refrain_tools.cli import main as cli
from tests.support import load_function
from tests.unit.churn.factory import T0, sample_event
from tests.unit.churn.test_transform import EXPECTED

EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[a-z]{2,}", re.IGNORECASE)


@pytest.fixture
def fn(cloud: CloudSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.delenv("REFRAIN_SUBSCRIBER_PEPPER", raising=False)
    module = load_function("churn_export")
    module.exporter.cache_clear()
    yield module
    module.exporter.cache_clear()


def _push(event: DomainEvent | None = None, *, data: bytes | None = None,
          attributes: dict[str, str] | None = None) -> CloudEvent:  # fmt: skip
    if event is not None:
        m = to_pubsub_message(event)
        data, attributes = m.data, m.attributes
    message = {"data": base64.b64encode(data or b"").decode(), "attributes": attributes or {},
               "messageId": "1", "orderingKey": "sub_1"}  # fmt: skip
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished",
         "source": "//pubsub.googleapis.com/projects/refrain-local/topics/subscription-events"},
        {"message": message, "subscription": "projects/refrain-local/subscriptions/churn-export"},
    )  # fmt: skip


def _rows(cloud: CloudSettings, table: str = "churn_signals") -> list[dict[str, Any]]:
    client = build_bigquery(cloud)
    sql = f"SELECT * FROM `{cloud.project}.{ANALYTICS_DATASET}.{table}`"
    return [dict(r) for r in client.query(sql).result()]


def test_every_event_type_produces_the_right_signal(fn: ModuleType, cloud: CloudSettings) -> None:
    events = [sample_event(t, sequence=i) for i, t in enumerate(EventType, start=1)]
    for event in events:
        fn.churn_export(_push(event))
    rows = {r["sequence"]: r for r in _rows(cloud)}
    expected = {e.sequence: EXPECTED[e.type] for e in events if e.type in EXPECTED}
    assert {s: r["signal_type"] for s, r in rows.items()} == expected
    failed = next(r for r in rows.values() if r["signal_type"] == "payment_failed")
    assert (failed["decline_category"], failed["amount_minor"], failed["currency"]) == (
        "insufficient_funds", 13900, "SEK",
    )  # fmt: skip
    expired = next(r for r in rows.values() if r["signal_type"] == "expired")
    assert (expired["churn_type"], expired["reason"], expired["tenure_days"]) == (
        "voluntary", "not_using", 400,
    )  # fmt: skip
    assert expired["occurred_at"] == T0 and expired["schema_version"] == 1


def test_malformed_message_raises_for_the_dead_letter_and_writes_nothing(
    fn: ModuleType, cloud: CloudSettings
) -> None:
    with pytest.raises(PoisonMessage):
        fn.churn_export(_push(data=b"{not json", attributes={"type": "subscription.renewed"}))
    fn.churn_export(_push(data=b"{not json", attributes={"type": "invoice.paid"}))  # acked
    assert _rows(cloud) == []


def test_duplicates_and_late_arrivals_end_as_one_row(fn: ModuleType, cloud: CloudSettings) -> None:
    publisher = OrderedPublisher(build_publisher(cloud), cloud.project)
    newer = [sample_event(EventType.RENEWED, subscription_id=f"sub_{i}", sequence=2,
                          occurred_at=T0) for i in range(5)]  # fmt: skip
    late = sample_event(EventType.PAYMENT_FAILED, subscription_id="sub_0", sequence=1,
                        occurred_at=T0 - timedelta(days=40))  # fmt: skip
    for event in [*newer, late, newer[0], late, newer[3]]:
        m = to_pubsub_message(event)
        publisher.publish(SUBSCRIPTION_EVENTS, m.data, m.attributes, m.ordering_key)
    publisher.publish(SUBSCRIPTION_EVENTS, b"poison", {"type": "subscription.renewed"}, "sub_9")

    result = CliRunner().invoke(cli, ["exports", "flush", "--max-messages", "50"])
    assert result.exit_code == 0, result.output
    assert "exported 9 (new 6)" in result.output and "poison 1" in result.output
    fn.churn_export(_push(late))  # redelivered once more, much later, through the push path
    fn.churn_export(_push(newer[1]))

    rows = _rows(cloud)
    assert len(rows) == 6 and len({r["signal_id"] for r in rows}) == 6
    late_row = next(r for r in rows if r["signal_type"] == "payment_failed")
    assert late_row["occurred_at"] == T0 - timedelta(days=40)


def _history() -> list[DomainEvent]:
    """Three subscribers over a month: a failing one, a cancelling one, a churned one."""
    d = timedelta(days=1)
    a = dict(subscription_id="sub_a", account_id="acct_a")
    b = dict(subscription_id="sub_b", account_id="acct_b")
    c = dict(subscription_id="sub_c", account_id="acct_c")
    return [
        sample_event(EventType.ACTIVATED, sequence=1, occurred_at=T0 - 60 * d, **a),
        sample_event(EventType.PAYMENT_FAILED, sequence=2, occurred_at=T0 - 50 * d, **a),
        sample_event(EventType.RECOVERED, sequence=3, occurred_at=T0 - 49 * d, **a),
        sample_event(EventType.PAYMENT_FAILED, sequence=4, occurred_at=T0 - 5 * d, **a),
        sample_event(
            EventType.PAYMENT_FAILED,
            sequence=5,
            occurred_at=T0 - 2 * d,
            failed_attempts=2,
            attempt=2,
            **a,
        ),
        sample_event(EventType.ACTIVATED, sequence=1, occurred_at=T0 - 10 * d, **b),
        sample_event(EventType.PLAN_CHANGED, sequence=2, occurred_at=T0 - 8 * d, **b),
        sample_event(EventType.CANCEL_REQUESTED, sequence=3, occurred_at=T0 - 1 * d, **b),
        sample_event(EventType.ACTIVATED, sequence=1, occurred_at=T0 - 30 * d, **c),
        sample_event(
            EventType.EXPIRED,
            sequence=2,
            occurred_at=T0 - 3 * d,
            churn_type="involuntary",
            tenure_days=27,
            **c,
        ),
    ]


def _snapshot_event(day: date | None) -> CloudEvent:
    body = json.dumps({"date": day.isoformat()} if day else {}).encode()
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub/x"},
        {"message": {"data": base64.b64encode(body).decode(), "messageId": "s1"}},
    )


def test_rerunning_a_snapshot_day_gives_the_same_table(
    fn: ModuleType, cloud: CloudSettings
) -> None:
    writer = fn.exporter()._sink
    rows = [fn.exporter()._transformer.transform(e) for e in _history()]
    writer.write(rows)
    day = T0.date()
    fn.feature_snapshot(_snapshot_event(day))
    first = sorted(_rows(cloud, "churn_features_daily"), key=lambda r: r["subscriber_key"])
    writer.write(rows[:4])  # duplicates arriving late change nothing either
    fn.feature_snapshot(_snapshot_event(day))
    again = sorted(_rows(cloud, "churn_features_daily"), key=lambda r: r["subscriber_key"])
    assert first == again and len(first) == 3

    keys = fn.exporter()._transformer._keys
    by_key = {r["subscriber_key"]: r for r in first}
    a, b, c = (by_key[keys.subscriber_key(f"acct_{x}")] for x in "abc")
    assert (a["failed_payments_30d"], a["failed_payments_90d"]) == (2, 3)
    assert (a["days_since_last_failure"], a["recoveries"], a["tenure_days"]) == (2, 1, 60)
    assert (b["plan_changes"], b["upgrades"], b["cancel_at_period_end"]) == (1, 1, True)
    assert b["days_to_renewal"] == 20 and b["churned"] is False  # cancel effective T0 + 20d
    assert (c["churned"], c["churn_type"], c["days_to_renewal"]) == (True, "involuntary", None)
    assert all(r["snapshot_date"] == day for r in first)


def test_backfill_command_replaces_each_day(fn: ModuleType, cloud: CloudSettings) -> None:
    fn.exporter()._sink.write([fn.exporter()._transformer.transform(e) for e in _history()])
    start, end = T0.date() - timedelta(days=1), T0.date()
    for _ in range(2):
        result = CliRunner().invoke(
            cli, ["exports", "backfill", "--from", start.isoformat(), "--to", end.isoformat()]
        )
        assert result.exit_code == 0, result.output
    client = build_bigquery(cloud)
    table = SnapshotWriter(client).table
    sql = f"SELECT snapshot_date AS d, COUNT(*) AS n FROM `{table}` GROUP BY d"
    counts = {r.d: r.n for r in client.query(sql).result()}
    assert counts == {start: 3, end: 3}
    bad = CliRunner().invoke(
        cli, ["exports", "backfill", "--from", "2026-03-05", "--to", "2026-03-01"]
    )
    assert bad.exit_code != 0


def test_no_exported_row_holds_an_email_a_name_or_a_raw_account_id(
    fn: ModuleType, cloud: CloudSettings
) -> None:
    people = [("acct_0001_jane", "Jane Doe", "jane.doe@example.com"),
              ("acct_0002_omar", "Omar Haddad", "omar+music@example.org")]  # fmt: skip
    seq, messages = 0, []
    for account, name, email in people:
        for type_ in EXPECTED:
            seq += 1
            extra: dict[str, Any] = {}
            if type_ is EventType.CANCEL_REQUESTED:
                extra["reason"] = f"{name} <{email}> wrote: too pricey"
            if type_ is EventType.EXPIRED:
                extra["cancel_reason"] = email
            if type_ is EventType.CHARGE_REFUNDED:
                extra["reason"] = name
            event = sample_event(type_, account_id=account, sequence=seq,
                                 subscription_id=account, **extra)  # fmt: skip
            m = to_pubsub_message(event)
            messages.append(PushMessage(m.data, m.attributes, str(seq)))
    assert fn.exporter().export(messages).inserted == len(messages)  # the batch path
    SnapshotWriter(build_bigquery(cloud)).write_day(T0.date())
    exported = _rows(cloud) + _rows(cloud, "churn_features_daily")
    assert len(exported) == 2 * len(EXPECTED) + 2
    for row in exported:
        text = json.dumps(row, default=str)
        assert not EMAIL.search(text), row
        for account, name, email in people:
            for secret in (account, name, email, name.split()[0], name.split()[1]):
                assert secret.lower() not in text.lower(), (secret, row)


def test_snapshot_day_defaults_to_yesterday_and_refuses_a_bad_date(fn: ModuleType) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert fn.snapshot_day({"message": {"data": ""}}, now) == date(2026, 2, 28)
    raw = base64.b64encode(b"scheduler tick").decode()
    assert fn.snapshot_day({"message": {"data": raw}}, now) == date(2026, 2, 28)
    with pytest.raises(ValueError):
        fn.feature_snapshot(
            CloudEvent({"type": "t", "source": "s"},
                       {"message": {"data": base64.b64encode(b'{"date": "03/01"}').decode()}})
        )  # fmt: skip


def test_refuses_to_run_without_a_pepper_outside_local(
    fn: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from refrain.churn.pseudonym import MissingPepper

    for key in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "REFRAIN_BIGQUERY_ENDPOINT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(MissingPepper):
        fn.churn_export(_push(sample_event(EventType.RENEWED)))


def test_bigquery_client_sees_the_tables_as_declared(cloud: CloudSettings) -> None:
    client = build_bigquery(cloud)
    table = client.get_table(f"{cloud.project}.{ANALYTICS_DATASET}.churn_features_daily")
    assert table.time_partitioning.field == "snapshot_date"
    assert isinstance(table.schema[0], bigquery.SchemaField)
