"""A small storm: every event three times, shuffled, 16 at a time, converges to in-order state."""

from __future__ import annotations

from collections import Counter

import pytest

from refrain.adapters.firestore import build_firestore
from refrain.settings import CloudSettings
from refrain.stack.manager import StackManager
from tests.integration.reliability.storm import (
    build_corpus,
    deliver_in_order,
    deliver_storm,
    final_state,
    storm_service,
)

SMALL_STORM = 150


@pytest.mark.timeout(150)
def test_storm_of_triplicated_shuffled_events_converges_to_the_in_order_state(
    cloud: CloudSettings, stack: StackManager
) -> None:
    corpus = build_corpus(SMALL_STORM, seed=5)
    providers = Counter(d.provider for d in corpus.deliveries)
    assert providers["stripe"] and providers["adyen"]

    stormed = deliver_storm(storm_service(cloud), corpus, copies=3, seed=5, workers=16)
    storm_state = final_state(build_firestore(cloud))

    stack.reset()
    ordered = deliver_in_order(storm_service(cloud), corpus)
    ordered_state = final_state(build_firestore(cloud))

    print("storm", stormed.as_dict(), "in order", ordered.as_dict())
    assert stormed.deliveries == 3 * len(corpus.deliveries) and stormed.gave_up == 0
    assert ordered.gave_up == 0 and ordered.posts == len(corpus.deliveries)
    assert stormed.statuses[422] > 0  # some refunds/invoices overtook their subscription
    assert set(storm_state.subscriptions) == corpus.subscriptions
    assert len(storm_state.outbox) == len(corpus.deliveries)  # one record per provider event
    assert storm_state.diff(ordered_state) == []
