"""The deployed churn export: an export-flushes tick drains churn-export into one MERGE.

Events are published to ``subscription-events`` as the webhook and the renewal
worker publish them; the tick is posted to the ``export_flush`` entry point as
the ``export-flush`` push subscription would post it (functions-framework app,
Pub/Sub push envelope). Every BigQuery call is counted at the client class.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from flask.testing import FlaskClient
from google.api_core.exceptions import DeadlineExceeded
from google.cloud import bigquery

from refrain.adapters.bigquery import build_bigquery
from refrain.adapters.pubsub import OrderedPublisher, build_publisher, build_subscriber
from refrain.domain.events import EventType, to_pubsub_message
from refrain.settings import CloudSettings
from refrain.topology import ANALYTICS_DATASET, CHURN_EXPORT_SUBSCRIPTION, SUBSCRIPTION_EVENTS
from tests.support import ROOT
from tests.unit.churn.factory import sample_event

SOURCE = ROOT / "functions" / "churn_export" / "main.py"
N = 24


@dataclass
class BigQueryCalls:
    """Every query and streaming insert the code under test sends to BigQuery."""

    queries: list[str] = field(default_factory=list)
    inserts: int = 0

    @property
    def writes(self) -> list[str]:
        return [q for q in self.queries if q.lstrip().upper().startswith(("MERGE", "INSERT"))]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> BigQueryCalls:
    seen = BigQueryCalls()
    query, insert = bigquery.Client.query, bigquery.Client.insert_rows_json

    def counted_query(self: bigquery.Client, sql: str, *args: Any, **kwargs: Any) -> Any:
        seen.queries.append(sql)
        return query(self, sql, *args, **kwargs)

    def counted_insert(self: bigquery.Client, *args: Any, **kwargs: Any) -> Any:
        seen.inserts += 1
        return insert(self, *args, **kwargs)

    monkeypatch.setattr(bigquery.Client, "query", counted_query)
    monkeypatch.setattr(bigquery.Client, "insert_rows_json", counted_insert)
    return seen


@pytest.fixture
def tick(cloud: CloudSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    monkeypatch.delenv("REFRAIN_SUBSCRIBER_PEPPER", raising=False)
    monkeypatch.delenv("REFRAIN_EXPORT_FLUSH_MAX", raising=False)
    app = functions_framework.create_app(target="export_flush", source=str(SOURCE))
    yield app.test_client()


def _post_tick(client: FlaskClient, project: str) -> None:
    """What the export-flush push subscription posts when Cloud Scheduler ticks."""
    body = json.dumps({"source": "cloud-scheduler", "topic": "export-flushes"}).encode()
    envelope = {
        "message": {
            "data": base64.b64encode(body).decode(),
            "attributes": {"origin": "cloud-scheduler"},
            "messageId": "tick-1",
            "publishTime": "2026-03-01T12:00:00Z",
        },
        "subscription": f"projects/{project}/subscriptions/export-flush",
    }
    response = client.post(f"/projects/{project}/topics/export-flushes", json=envelope)
    assert response.status_code == 200, response.get_data(as_text=True)


def _flush_line(out: str) -> dict[str, Any]:
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    flushed = [x for x in lines if x.get("message") == "export flushed"]
    assert len(flushed) == 1, out
    line: dict[str, Any] = flushed[0]
    return line


def _publish(cloud: CloudSettings, messages: list[tuple[bytes, dict[str, str], str]]) -> None:
    publisher = OrderedPublisher(build_publisher(cloud), cloud.project)
    for data, attributes, key in messages:
        publisher.publish(SUBSCRIPTION_EVENTS, data, attributes, key)


def _events(n: int) -> list[tuple[bytes, dict[str, str], str]]:
    types = [EventType.ACTIVATED, EventType.RENEWED, EventType.PAYMENT_FAILED]
    out = []
    for i in range(n):
        event = sample_event(types[i % 3], subscription_id=f"sub_{i % 6}", sequence=i + 1)
        m = to_pubsub_message(event)
        out.append((m.data, dict(m.attributes), m.ordering_key))
    return out


def _left_in_queue(cloud: CloudSettings) -> list[bytes]:
    """What a consumer could still pull from churn-export (acked nothing: read only)."""
    subscriber = build_subscriber(cloud)
    path = subscriber.subscription_path(cloud.project, CHURN_EXPORT_SUBSCRIPTION)
    try:
        response = subscriber.pull(request={"subscription": path, "max_messages": 100}, timeout=3)
        return [r.message.data for r in response.received_messages]
    except DeadlineExceeded:
        return []
    finally:
        subscriber.close()


def _rows(cloud: CloudSettings) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM `{cloud.project}.{ANALYTICS_DATASET}.churn_signals`"
    return [dict(r) for r in build_bigquery(cloud).query(sql).result()]


def test_one_tick_drains_the_queue_into_one_merge(
    tick: FlaskClient,
    cloud: CloudSettings,
    calls: BigQueryCalls,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _publish(cloud, _events(N))

    _post_tick(tick, cloud.project)

    assert len(calls.writes) == 1 and calls.writes[0].lstrip().startswith("MERGE")
    assert calls.inserts == 0
    line = _flush_line(capsys.readouterr().out)
    assert (line["pulled"], line["exported"], line["inserted"]) == (N, N, N)
    assert (line["skipped"], line["poison"], line["max_messages"]) == (0, 0, 5000)
    assert line["severity"] == "INFO" and line["function"] == "churn_export"
    rows = _rows(cloud)
    assert len(rows) == N and len({r["signal_id"] for r in rows}) == N
    assert _left_in_queue(cloud) == []

    # The next tick finds nothing to do and writes nothing.
    _post_tick(tick, cloud.project)
    assert len(calls.writes) == 1
    again = _flush_line(capsys.readouterr().out)
    assert (again["outcome"], again["pulled"]) == ("empty", 0)


def test_a_malformed_message_is_nacked_while_the_batch_is_written(
    tick: FlaskClient,
    cloud: CloudSettings,
    calls: BigQueryCalls,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REFRAIN_EXPORT_FLUSH_MAX", "50")
    poison = (b"{not json", {"type": "subscription.renewed"}, "sub_poison")
    skipped = (b"{}", {"type": "renewal.tick"}, "sub_other")
    _publish(cloud, [*_events(4), poison, skipped])

    _post_tick(tick, cloud.project)  # the tick itself succeeds: poison is not its failure

    line = _flush_line(capsys.readouterr().out)
    assert (line["exported"], line["skipped"], line["poison"]) == (4, 1, 1)
    assert line["max_messages"] == 50
    assert len(calls.writes) == 1 and len(_rows(cloud)) == 4
    # Nacked, not acked: Pub/Sub redelivers it and dead-letters it after the bounded attempts.
    assert _left_in_queue(cloud) == [b"{not json"]


def test_a_bad_flush_size_fails_the_tick_and_touches_nothing(
    tick: FlaskClient, cloud: CloudSettings, calls: BigQueryCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFRAIN_EXPORT_FLUSH_MAX", "lots")
    _publish(cloud, _events(2))
    envelope = {"message": {"data": "", "messageId": "t"}, "subscription": "s"}
    response = tick.post(f"/projects/{cloud.project}/topics/export-flushes", json=envelope)
    assert response.status_code == 500  # retried by Pub/Sub, then dead-lettered
    assert calls.writes == [] and len(_left_in_queue(cloud)) == 2


def test_entry_point_is_the_one_terraform_deploys() -> None:
    doc = json.loads(Path(ROOT / "terraform/generated/topology.json").read_text())
    fn = next(f for f in doc["functions"] if f["name"] == "churn_export")
    assert (fn["source"], fn["entry_point"]) == ("churn_export", "export_flush")
