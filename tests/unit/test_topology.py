from __future__ import annotations

import pytest

from refrain.stack.provision import subscription_request
from refrain.topology import TOPOLOGY, Subscription, Topic, Topology


def test_every_subscription_has_its_own_dead_letter_topic() -> None:
    dead_letters = [s.dead_letter_topic for s in TOPOLOGY.subscriptions]
    assert len(set(dead_letters)) == len(dead_letters)
    assert set(dead_letters) <= TOPOLOGY.topic_names()


def test_validate_refuses_missing_dead_letter_topic() -> None:
    broken = Topology(
        topics=(Topic("a"),),
        subscriptions=(Subscription("s", "a", dead_letter_topic="nowhere"),),
        datasets=(),
    )
    with pytest.raises(ValueError, match="dead-letter"):
        broken.validate()


def test_validate_refuses_unbounded_or_too_few_attempts() -> None:
    sub = Subscription("s", "a", dead_letter_topic="d", max_delivery_attempts=3)
    with pytest.raises(ValueError, match="attempts"):
        Topology((Topic("a"), Topic("d")), (sub,), ()).validate()


def test_subscription_request_carries_policies_and_push_only_when_served() -> None:
    sub = next(s for s in TOPOLOGY.subscriptions if s.push and s.push.path == "/google-play")
    pull = subscription_request("p", sub, {})
    assert "push_config" not in pull
    assert pull["dead_letter_policy"]["max_delivery_attempts"] == sub.max_delivery_attempts
    pushed = subscription_request("p", sub, {"checkout_webhook": "http://127.0.0.1:9000/"})
    assert pushed["push_config"]["push_endpoint"] == "http://127.0.0.1:9000/google-play"


def test_subscription_events_consumers_are_ordered() -> None:
    consumers = [s for s in TOPOLOGY.subscriptions if s.topic == "subscription-events"]
    assert consumers and all(s.ordering for s in consumers)
