from __future__ import annotations

import pytest

from refrain.topology import (
    CHURN_EXPORT_SUBSCRIPTION,
    EXPORT_FLUSHES,
    SCHEDULED_TOPICS,
    TOPOLOGY,
    Function,
    PushTarget,
    Subscription,
    Topic,
    Topology,
)
from refrain_tools.stack.provision import subscription_request


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


def test_pushed_subscription_events_consumers_are_ordered() -> None:
    consumers = [s for s in TOPOLOGY.subscriptions if s.topic == "subscription-events" and s.push]
    assert consumers and all(s.ordering for s in consumers)


def test_the_churn_export_queue_is_unordered_so_a_flush_can_take_a_whole_batch() -> None:
    queue = next(s for s in TOPOLOGY.subscriptions if s.name == "churn-export")
    assert queue.push is None and not queue.ordering


def test_churn_export_is_a_pull_queue_drained_by_the_scheduled_flush() -> None:
    subs = {s.name: s for s in TOPOLOGY.subscriptions}
    queue = subs[CHURN_EXPORT_SUBSCRIPTION]
    assert queue.push is None and not queue.ordering and queue.topic == "subscription-events"
    assert queue.dead_letter_topic == "churn-export-dead-letter"
    assert (queue.max_delivery_attempts, queue.min_backoff_s, queue.max_backoff_s) == (10, 10, 600)
    flush = subs["export-flush"]
    assert flush.topic == EXPORT_FLUSHES and not flush.ordering
    assert flush.push is not None and flush.push.function == "churn_export"
    assert flush.dead_letter_topic == "export-flush-dead-letter"
    assert SCHEDULED_TOPICS[EXPORT_FLUSHES] == "every 1 minutes"
    fn = next(f for f in TOPOLOGY.functions if f.name == "churn_export")
    assert (fn.source, fn.entry_point, fn.signature, fn.public) == (
        "churn_export",
        "export_flush",
        "cloudevent",
        False,
    )


def test_a_pull_subscription_never_gets_a_push_config() -> None:
    queue = next(s for s in TOPOLOGY.subscriptions if s.name == CHURN_EXPORT_SUBSCRIPTION)
    request = subscription_request("p", queue, {"churn_export": "http://127.0.0.1:9000/"})
    assert "push_config" not in request
    assert request["enable_message_ordering"] is False
    assert request["dead_letter_policy"]["dead_letter_topic"] == (
        "projects/p/topics/churn-export-dead-letter"
    )


def test_validate_accepts_a_pull_subscription_and_refuses_an_unknown_push_target() -> None:
    fn = Function("f", "f", "f", "cloudevent")
    pull = Subscription("s", "a", dead_letter_topic="d")
    Topology((Topic("a"), Topic("d")), (pull,), (), (fn,)).validate()
    pushed = Subscription("s", "a", dead_letter_topic="d", push=PushTarget("nowhere"))
    with pytest.raises(ValueError, match="unknown function"):
        Topology((Topic("a"), Topic("d")), (pushed,), (), (fn,)).validate()


def test_every_push_deadline_covers_its_function_s_timeout() -> None:
    """A push that outlives its ack deadline is redelivered while still running."""
    timeouts = {f.name: f.timeout_s for f in TOPOLOGY.functions}
    pushed = [s for s in TOPOLOGY.subscriptions if s.push]
    assert pushed
    for sub in pushed:
        assert sub.push is not None
        assert timeouts[sub.push.function] <= sub.ack_deadline_s <= 600, sub.name


def test_validate_refuses_a_push_deadline_shorter_than_the_function_s_timeout() -> None:
    """The mistake once shipped: 60 s deadlines before functions running up to 540 s."""
    fn = Function("snapshot", "s", "s", "cloudevent", timeout_s=540)
    topics = (Topic("a"), Topic("d"))
    short = Subscription("s", "a", dead_letter_topic="d", push=PushTarget("snapshot"))
    with pytest.raises(ValueError, match="shorter than snapshot's timeout 540 s"):
        Topology(topics, (short,), (), (fn,)).validate()
    covered = Subscription(
        "s", "a", dead_letter_topic="d", push=PushTarget("snapshot"), ack_deadline_s=540
    )
    Topology(topics, (covered,), (), (fn,)).validate()
    too_long = Subscription("s", "a", dead_letter_topic="d", ack_deadline_s=601)
    with pytest.raises(ValueError, match=r"within 10\.\.600"):
        Topology(topics, (too_long,), (), (fn,)).validate()
