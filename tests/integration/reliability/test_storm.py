"""A small storm end to end: every provider event and every downstream message three times,
shuffled, 16 at a time; the result equals an in-order single delivery, nothing happens twice."""

from __future__ import annotations

from collections import Counter

import pytest

from refrain.churn.export import EXPORTED_EVENT_TYPES
from refrain.domain.events import EventType
from refrain.renewals import sandbox
from refrain.settings import CloudSettings
from refrain_tools.stack.manager import StackManager
from tests.integration.reliability.pipeline import event_deficit, figures, run_pipeline
from tests.integration.reliability.storm import build_corpus

SMALL_STORM = 100


@pytest.mark.timeout(300)  # the Firestore emulator can stall ~30 s on lock contention
def test_storm_of_triplicated_shuffled_events_converges_to_the_in_order_state(
    cloud: CloudSettings, stack: StackManager
) -> None:
    corpus = build_corpus(SMALL_STORM, seed=5)
    providers = Counter(d.provider for d in corpus.deliveries)
    assert providers["stripe"] and providers["adyen"]

    stormed = run_pipeline(cloud, stack.config, corpus, storm=True, seed=5)
    stack.reset()
    ordered = run_pipeline(cloud, stack.config, corpus, storm=False, seed=5)
    for name, run in (("storm", stormed), ("in order", ordered)):
        print(f"--- {name}", *figures(run), sep="\n")

    # webhook: triplicated, some overtook their subscription, all converged
    web = stormed.webhook
    assert web.deliveries == 3 * len(corpus.deliveries) and web.gave_up == 0
    assert ordered.webhook.gave_up == 0 and ordered.webhook.posts == len(corpus.deliveries)
    # nothing waited on a provider retry: every answer was 200 (a 503 only under contention)
    assert set(web.statuses) <= {200, 503} and web.posts - web.deliveries == web.statuses[503]
    assert web.parked_left == 0 and ordered.webhook.parked_left == 0  # all applied
    assert set(stormed.state.subscriptions) == corpus.subscriptions
    assert (
        len(stormed.state.outbox) == corpus.inputs
    )  # one entry per input, whatever the deliveries
    assert stormed.state.diff(ordered.state) == []

    s, o = stormed.counts, ordered.counts
    # every published message was taken off each subscription, nothing left unpublished
    assert s.published > 0 and s.unpublished_outbox == 0
    assert stormed.pulled == {
        "receipt-email": s.published,
        "churn-export": s.published,
        "receipt-email (left over)": 0,  # nothing was published twice
        "churn-export (left over)": 0,
    }

    # receipts: the duplicates reached the consumer and it said "already sent"
    for stage in stormed.receipts:
        assert stage.deliveries == 3 * stage.messages and stage.gave_up == 0
    outcomes = sum((stage.outcomes for stage in stormed.receipts), Counter[str]())
    assert outcomes["receipt:already_sent"] > 0 and outcomes["credit_note:already_sent"] > 0
    assert s.invoices["invoice"] > 0 and s.invoices["credit_note"] > 0
    assert s.mails_per_document == Counter({1: sum(s.invoices.values())})  # one each
    assert set(s.mails_per_notice) <= {1} and s.documents_not_sent == []
    assert s.mails == sum(s.receipt_events.values())  # one e-mail per event that calls for one

    # churn rows: duplicates reached the MERGE, which inserted each signal once
    churned = stormed.churn
    assert sum(c.exported - c.inserted for c in churned) > 0
    assert all(c.stage.gave_up == 0 and c.poison == 0 for c in churned)
    signals = set().union(*(c.signals for c in churned))
    assert s.rows_per_signal == Counter({1: len(signals)}) and s.signal_ids == signals

    # renewals: every due subscription charged exactly once, declines never
    renewals = stormed.renewals
    assert renewals.due > 0 and renewals.stage.gave_up == 0
    assert renewals.stage.deliveries == 3 * renewals.published
    assert renewals.stage.outcomes["duplicate"] > 0
    assert renewals.stage.outcomes["!GatewayUnavailable"] > 0  # a timed-out charge, re-driven
    charged = renewals.charges_by_subscription()
    # A stored method is "{customer or shopper}:{card}"; the sandbox reads the card part.
    paying = {
        sid
        for sid, m in renewals.methods.items()
        if m.rpartition(":")[2] in (sandbox.OK, sandbox.TIMEOUT)
    }
    assert paying and all(charged[sid] == 1 for sid in paying)
    assert all(n == 0 for sid, n in charged.items() if sid not in paying)
    assert max(renewals.sandbox.successes.values()) == 1  # no period charged twice

    # the same effects as one in-order delivery
    assert renewals.due == ordered.renewals.due
    assert renewals.sandbox.charges == ordered.renewals.sandbox.charges
    deficit = event_deficit(s, o)
    assert {sid: d for sid, d in deficit.items() if min(d.values()) < 0} == {}  # nothing extra
    # Known divergence (storm.py): a Stripe Billing mirror first created by a later period's
    # report never saw that renewal, so its subscription.renewed is missing. Nothing else
    # may be: every paid invoice is announced (and mailed) once, whatever the order.
    modes = {sid: f["billing_mode"] for sid, f in stormed.state.subscriptions.items()}
    assert {sid for sid in deficit if modes.get(sid) != "provider_managed"} == set()
    assert {t for d in deficit.values() for t in d} <= {EventType.RENEWED.value}, deficit
    renewed_lost = sum(d.get(EventType.RENEWED.value, 0) for d in deficit.values())
    exported = EventType.RENEWED.value in EXPORTED_EVENT_TYPES
    assert s.invoices == o.invoices and s.mails == o.mails
    assert s.rows + (renewed_lost if exported else 0) == o.rows
    if not deficit:
        assert s.comparable() == o.comparable()
