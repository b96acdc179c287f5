"""The flush's configuration and its behaviour on an idle queue (in-memory fakes)."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core.exceptions import DeadlineExceeded
from hypothesis import given
from hypothesis import strategies as st

from refrain.adapters.bigquery_signals import SubscriptionPuller
from refrain.bootstrap import build_exporter, build_flush
from refrain.churn.export import ChurnExporter
from refrain.churn.flush import DEFAULT_FLUSH_MAX, FLUSH_MAX_ENV, flush, flush_max_messages
from refrain.churn.pseudonym import MissingPepper


def test_flush_size_defaults_to_5000() -> None:
    assert flush_max_messages({}) == DEFAULT_FLUSH_MAX == 5000
    assert flush_max_messages({FLUSH_MAX_ENV: "  "}) == 5000


@given(st.integers(min_value=1, max_value=100_000))
def test_any_size_in_range_is_taken(value: int) -> None:
    assert flush_max_messages({FLUSH_MAX_ENV: f" {value} "}) == value


@pytest.mark.parametrize("raw", ["0", "-5", "100001", "5e3", "lots", "12.5"])
def test_a_bad_size_is_refused_clearly(raw: str) -> None:
    with pytest.raises(ValueError, match=FLUSH_MAX_ENV):
        flush_max_messages({FLUSH_MAX_ENV: raw})


class _IdleClient:
    """A subscriber whose pull waits out its deadline, as Pub/Sub may on an empty queue."""

    def __init__(self) -> None:
        self.acked: list[Any] = []

    def pull(self, request: dict[str, Any], timeout: float) -> Any:
        raise DeadlineExceeded("no messages")

    def acknowledge(self, request: dict[str, Any]) -> None:
        self.acked.append(request)

    def modify_ack_deadline(self, request: dict[str, Any]) -> None:
        self.acked.append(request)


def test_an_idle_queue_is_an_empty_flush_not_a_failure() -> None:
    puller = SubscriptionPuller.__new__(SubscriptionPuller)
    client = _IdleClient()
    puller._client = client
    puller.path = "projects/p/subscriptions/churn-export"
    exporter = ChurnExporter.__new__(ChurnExporter)  # never reached: nothing was pulled
    report = flush(puller, exporter, 5000)
    assert (report.exported, report.skipped, report.poison) == (0, 0, [])
    assert client.acked == []


def test_no_client_is_opened_without_a_pepper_outside_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in (
        "REFRAIN_SUBSCRIBER_PEPPER",
        "REFRAIN_ENVIRONMENT",
        "FIRESTORE_EMULATOR_HOST",
        "PUBSUB_EMULATOR_HOST",
        "REFRAIN_BIGQUERY_ENDPOINT",
    ):
        monkeypatch.delenv(key, raising=False)
    opened: list[str] = []
    monkeypatch.setattr(SubscriptionPuller, "__init__", lambda *a, **k: opened.append("puller"))
    with pytest.raises(MissingPepper):
        build_flush()
    with pytest.raises(MissingPepper):
        build_exporter()
    assert opened == []
