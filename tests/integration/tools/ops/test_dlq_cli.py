"""`refrain dlq list|replay` on the Pub/Sub emulator.

The emulator dead-letters only on subscriptions without message ordering, so
the churn-export case publishes straight to its dead-letter topic what Pub/Sub
would forward there (same data, ordering key, attributes plus the
CloudPubSubDeadLetter* ones).
"""

from __future__ import annotations

import json

from refrain.adapters.pubsub import OrderedPublisher, build_publisher
from refrain.domain.clock import utc
from refrain.domain.events import EventType, build_event, to_pubsub_message
from tests.integration.care.conftest import Ops

DLT = "churn-export-dead-letter"


def _dead_letter(ops: Ops, sequence: int = 1) -> bytes:
    event = build_event(
        subscription_id="sub_dlq_1", sequence=sequence, type=EventType.CANCEL_REVERTED,
        occurred_at=utc(2025, 1, 5), recorded_at=utc(2025, 1, 5),
        payload={"account_id": "acct_1", "provider": "stripe", "billing_mode": "merchant_managed",
                 "plan": "individual_monthly", "market": "SE", "state": "active",
                 "renewal_count": 0, "failed_attempts": 0},
    )  # fmt: skip
    message = to_pubsub_message(event)
    attributes = {
        **message.attributes,
        "CloudPubSubDeadLetterSourceDeliveryCount": "10",
        "CloudPubSubDeadLetterSourceSubscription": "churn-export",
        "CloudPubSubDeadLetterSourceSubscriptionProject": ops.settings.project,
        "CloudPubSubDeadLetterSourceTopicPublishTime": f"2025-01-05T00:00:0{sequence}Z",
    }
    publisher = OrderedPublisher(build_publisher(ops.settings), ops.settings.project)
    publisher.publish(DLT, message.data, attributes, ordering_key=message.ordering_key)
    return message.data


def _listed(ops: Ops) -> dict:  # type: ignore[type-arg]
    result = ops.cli("dlq", "list", "--topic", DLT, "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout)[DLT])


def test_list_shows_held_letters_without_consuming_or_printing_payloads(ops: Ops) -> None:
    data = _dead_letter(ops)
    for _ in range(2):  # listing twice: still held
        listed = _listed(ops)
        assert listed["count"] == 1 and listed["subscription"] == "churn-export"
        message = listed["messages"][0]
        assert message["type"] == "subscription.cancel_reverted"
        assert message["event_id"] == "sub_dlq_1#1" and message["subscription_id"] == "sub_dlq_1"
        assert message["source_delivery_count"] == "10" and message["size"] == len(data)
        assert message["ordering_key"] == "sub_dlq_1"
    human = ops.cli("dlq", "list", "--topic", "churn-export")
    assert human.exit_code == 0 and "1 held" in human.stdout and "sub_dlq_1#1" in human.stdout
    assert "acct_1" not in human.stdout  # payload never printed
    unknown = ops.cli("dlq", "list", "--topic", "nope-dead-letter")
    assert unknown.exit_code == 1 and "no dead-letter topic 'nope-dead-letter'" in unknown.output


def test_replay_republishes_once_to_the_original_topic_and_empties_the_hold(ops: Ops) -> None:
    first, second = _dead_letter(ops, 1), _dead_letter(ops, 2)
    dry = ops.cli("dlq", "replay", "--topic", DLT, "--dry-run")
    assert dry.exit_code == 0 and "would replay 2 to subscription-events" in dry.stdout
    assert ops.pull("churn-export") == []
    assert _listed(ops)["count"] == 2

    done = ops.cli("dlq", "replay", "--topic", DLT)
    assert done.exit_code == 0 and "replayed 2 to subscription-events" in done.stdout
    replayed = ops.pull("churn-export", 2, settle=True)
    assert [m.data for m in replayed] == [first, second]  # original order, same data
    for message in replayed:
        assert message.ordering_key == "sub_dlq_1"
        assert message.attributes["replay_for"] == "churn-export"
        assert message.attributes["type"] == "subscription.cancel_reverted"
        assert not [k for k in message.attributes if k.startswith("CloudPubSubDeadLetter")]
    # Every consumer of the topic sees it again (they are idempotent on event_id).
    assert len(ops.pull("receipt-email", 2, settle=True)) == 2
    assert _listed(ops)["count"] == 0
    again = ops.cli("dlq", "replay", "--topic", DLT)
    assert again.exit_code == 0 and "nothing to replay" in again.stdout
    assert ops.pull("churn-export") == []
