"""The pure parts of dead-letter replay: routing, attributes, order, what is shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.topology import TOPOLOGY, dead_letter_hold_subscription
from refrain_tools.ops.dlq import (
    REPLAY_FOR,
    DeadLetter,
    replay_attributes,
    replay_order,
    routes,
)


def test_every_subscription_has_a_route_back_to_its_own_topic() -> None:
    found = {r.dead_letter_topic: r for r in routes()}
    assert len(found) == len(TOPOLOGY.subscriptions)
    for sub in TOPOLOGY.subscriptions:
        route = found[sub.dead_letter_topic]
        assert (route.subscription, route.topic) == (sub.name, sub.topic)
        assert route.hold == dead_letter_hold_subscription(sub.dead_letter_topic)


@pytest.mark.parametrize(
    "name", ["churn-export-dead-letter", "churn-export", "churn-export-dead-letter-hold"]
)
def test_one_route_by_any_of_its_names(name: str) -> None:
    assert [r.subscription for r in routes(only=name)] == ["churn-export"]


def test_unknown_topic_is_a_clear_error() -> None:
    with pytest.raises(LookupError, match="no dead-letter topic 'x'; known: "):
        routes(only="x")


attribute_names = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12)


@given(
    st.dictionaries(attribute_names, st.text(max_size=8)),
    st.dictionaries(attribute_names.map(lambda s: "CloudPubSubDeadLetter" + s), st.text()),
)
def test_replay_drops_only_pub_subs_dead_letter_attributes(
    own: dict[str, str], added: dict[str, str]
) -> None:
    own = {k: v for k, v in own.items() if not k.startswith("CloudPubSubDeadLetter")}
    route = routes(only="receipt-email")[0]
    assert replay_attributes({**own, **added}, route) == {**own, REPLAY_FOR: "receipt-email"}


def _letter(message_id: str, source_time: str | None, data: bytes = b"{}") -> DeadLetter:
    attrs = {"type": "t", "event_id": "s#1", "account_email": "never@shown.example"}
    if source_time:
        attrs["CloudPubSubDeadLetterSourceTopicPublishTime"] = source_time
    return DeadLetter(message_id, "ack", data, attrs, "s", datetime(2025, 1, 9, tzinfo=UTC))


def test_replay_order_is_original_publish_time() -> None:
    letters = [_letter("3", "2025-01-03T00:00:00Z"), _letter("1", "2025-01-01T00:00:00Z"),
               _letter("2", "2025-01-02T00:00:00Z")]  # fmt: skip
    assert [m.message_id for m in replay_order(letters)] == ["1", "2", "3"]


def test_summary_shows_attributes_and_size_never_the_payload() -> None:
    summary = _letter("1", None, data=b'{"email": "a@b.example"}').summary()
    assert summary["size"] == 24 and summary["event_id"] == "s#1"
    assert "a@b.example" not in repr(summary) and "never@shown" not in repr(summary)
