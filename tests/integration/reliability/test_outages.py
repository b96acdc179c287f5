"""Outages: the Firestore or Pub/Sub emulator stops in the middle of a run.

``StackManager.pause`` freezes the emulator's process group (SIGSTOP): it keeps
its data and answers nothing, the way a zone outage or a network partition
looks to a client (calls hang, then time out). ``kill`` stops Firestore outright
(calls are refused); it comes back empty, as a restarted emulator does.

The bounds come from CloudSettings (REFRAIN_FIRESTORE_DEADLINE_S,
REFRAIN_PUBLISH_TIMEOUT_S; small here). What must hold:
- Firestore down: the webhook answers 503 within the bound and stores nothing;
  the provider's retry applies it once; consumers (receipts, renewal charges)
  raise, so Pub/Sub redelivers, and neither an e-mail, an invoice number nor a
  gateway charge happened; afterwards everything converges, including a commit
  the frozen emulator made after its client gave up (the outbox sweep publishes it).
- Pub/Sub down: the webhook still answers 200. Its transaction is durable and the
  outbox entry holds the events (that is the point of the transactional outbox);
  the sweep publishes them once Pub/Sub is back. The renewal tick fails (the
  scheduler runs it again) and the next tick publishes what is due.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import CUSTOMERS, INVOICES, OUTBOX, WEBHOOK_AUDIT
from refrain.adapters.firestore_outbox import events_of
from refrain.adapters.firestore_renewals import seed_subscriptions
from refrain.ingest.service import WebhookService
from refrain.renewals import sandbox
from refrain.renewals.gateway import GatewayRouter
from refrain.renewals.sandbox import SandboxGateway
from refrain.settings import CloudSettings
from refrain.topology import CHURN_EXPORT_SUBSCRIPTION
from refrain_tools.renewals.inline import build_inline, build_renewals
from refrain_tools.renewals.population import active_subscription
from refrain_tools.stack.mailbox import sent_raw_mail
from refrain_tools.stack.manager import StackManager
from tests.integration.reliability.storm import (
    Delivery,
    build_corpus,
    deliver,
    deliver_in_order,
    deliver_storm,
    final_state,
    settle_parked,
    storm_service,
)
from tests.integration.reliability.storm import _post as post
from tests.support import pull_messages, sweep_outbox
from tests.unit.invoicing.factories import invoice_paid

# What a Firestore transaction that lost to contention raises (retries exhausted).
CONTENTION = frozenset({"ValueError", "Aborted"})
DEADLINE_S = 2.0
PUBLISH_TIMEOUT_S = 1.5
BOUND_S = DEADLINE_S * 2 + 2  # the 503 comes within this, not after the libraries' 60 s


@pytest.fixture
def bounded(cloud: CloudSettings, monkeypatch: pytest.MonkeyPatch) -> CloudSettings:
    monkeypatch.setenv("REFRAIN_FIRESTORE_DEADLINE_S", str(DEADLINE_S))
    monkeypatch.setenv("REFRAIN_PUBLISH_TIMEOUT_S", str(PUBLISH_TIMEOUT_S))
    return CloudSettings()


@contextmanager
def outage(stack: StackManager, name: str) -> Iterator[None]:
    stack.pause(name)
    try:
        yield
    finally:
        stack.resume(name)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def _count(cloud: CloudSettings, collection: str) -> int:
    return len(list(build_firestore(cloud).collection(collection).list_documents()))


def _audit_outcomes(cloud: CloudSettings) -> dict[str, str]:
    docs = build_firestore(cloud).collection(WEBHOOK_AUDIT).stream()
    return {d.id: str((d.to_dict() or {}).get("outcome")) for d in docs}


def _unpublished(cloud: CloudSettings) -> list[str]:
    docs = build_firestore(cloud).collection(OUTBOX).stream()
    return [d.id for d in docs if (d.to_dict() or {}).get("published") is False]


def _sweep(cloud: CloudSettings) -> int:
    """The scheduled sweep, run as if a minute had passed (it skips entries under 30 s)."""
    return sweep_outbox(cloud, datetime.now(UTC) + timedelta(minutes=1))


def _pulled_event_ids(cloud: CloudSettings, subscription: str, want: set[str]) -> set[str]:
    """Event ids that reached ``subscription``, pulled until every one of ``want`` came."""

    def covered(got: list[Any]) -> bool:
        return want <= {m.attributes.get("event_id", "") for m in got}

    return {m.attributes.get("event_id", "") for m in pull_messages(cloud, subscription, covered)}


def _reference(stack: StackManager, cloud: CloudSettings, deliveries: list[Delivery]) -> Any:
    """The final state of the same events delivered once, in order, with no outage."""
    stack.reset()
    corpus = build_corpus(0)
    corpus.deliveries.extend(deliveries)
    report = deliver_in_order(storm_service(cloud), corpus)
    assert report.gave_up == 0
    return final_state(build_firestore(cloud))


# -- Firestore ------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_webhook_answers_503_while_firestore_is_down_and_the_retry_applies_once(
    bounded: CloudSettings, stack: StackManager
) -> None:
    ordered = build_corpus(24, seed=11).in_order()
    before, during, after = ordered[:10], ordered[10:14], ordered[14:]
    service = storm_service(bounded)
    assert deliver(service, before, events=len(before), workers=1, max_rounds=1).gave_up == 0
    snapshot = final_state(build_firestore(bounded))
    audits = _audit_outcomes(bounded)

    with outage(stack, "firestore"):
        answers = [timed(partial(post, service, d)) for d in during]

    assert [status for status, _ in answers] == [503] * len(during)
    assert max(seconds for _, seconds in answers) < BOUND_S
    assert final_state(build_firestore(bounded)) == snapshot  # nothing half-applied
    # A request the frozen emulator had already received it may store after thawing:
    # then only as the raw request ("received"), never processed (its caller got a 503).
    late = {k: v for k, v in _audit_outcomes(bounded).items() if k not in audits}
    assert set(late.values()) <= {"received"}, late

    retried = deliver(service, during + after, events=len(during + after), workers=1)
    assert retried.gave_up == 0
    converged = final_state(build_firestore(bounded))
    assert converged.diff(_reference(stack, bounded, ordered)) == []


@pytest.mark.timeout(240)
@pytest.mark.parametrize("down", ["firestore", "pubsub"])
def test_outage_in_the_middle_of_a_storm_converges_and_loses_no_event(
    bounded: CloudSettings,
    stack: StackManager,
    down: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if down == "pubsub":
        # Only Pub/Sub is out: Firestore keeps its production bound, because a 2 s one
        # can run out in the emulator's lock queue under this storm's contention alone.
        monkeypatch.delenv("REFRAIN_FIRESTORE_DEADLINE_S")
        bounded = CloudSettings()
    corpus = build_corpus(60, seed=12)
    posts = _CountingService(storm_service(bounded))
    result: dict[str, Any] = {}
    storm = threading.Thread(
        target=lambda: result.update(
            stats=deliver_storm(posts, corpus, copies=3, seed=12, workers=8)  # type: ignore[arg-type]
        )
    )
    storm.start()
    assert posts.reached(40, timeout_s=60), "the storm did not get going"
    with outage(stack, down):
        time.sleep(DEADLINE_S + 1)
    storm.join(timeout=180)
    stats = result["stats"]

    if down == "firestore":
        # The outage was felt: a request that could not be stored was answered 503 (the
        # provider retries), one stored before a failed apply was parked for the sweep's
        # replay and answered 200 (invariant 9).
        lines = capsys.readouterr().out.splitlines()
        parked = [line for line in lines if '"webhook stored, not applied yet' in line]
        assert stats.statuses[503] + len(parked) > 0
    else:
        # Committed and answered; Pub/Sub is owed the events. A 503 here can only be
        # Firestore transaction contention (this storm's, on 2 cores), never the outage:
        # a failed publish is left to the sweep and the request still answers 200.
        failures = [
            json.loads(line)
            for line in capsys.readouterr().out.splitlines()
            if line.startswith("{") and '"webhook failed' in line
        ]
        assert len(failures) == stats.statuses[503]
        assert all(f["stage"] == "apply" and f["error"] in CONTENTION for f in failures)
        assert _unpublished(bounded) != []
    assert stats.gave_up == 0  # the providers' retries got everything in
    # Entries left unpublished: Pub/Sub was down, or a commit the frozen Firestore finished
    # after its client gave up (answered 503, then a duplicate on retry). Events parked while
    # their wake-up met the frozen Firestore wait for the parking sweep. The sweep (outbox
    # and parking, as the scheduled function runs them) owns both.
    settle_parked(storm_service(bounded))
    _sweep(bounded)
    assert _unpublished(bounded) == []
    stormed = final_state(build_firestore(bounded))
    assert len(stormed.outbox) == corpus.inputs
    owed = {
        event.event_id
        for doc in build_firestore(bounded).collection(OUTBOX).stream()
        for event in events_of(doc.to_dict() or {})
    }
    delivered = _pulled_event_ids(bounded, CHURN_EXPORT_SUBSCRIPTION, want=owed)
    assert owed and owed <= delivered  # every committed event reached its consumers
    assert stormed.diff(_reference(stack, bounded, corpus.in_order())) == []


class _FreezesAfterStoring:
    """The real audit log; the emulator freezes right after the raw request is stored."""

    def __init__(self, audit: Any, stack: StackManager) -> None:
        self._audit, self._stack = audit, stack

    def record(self, *args: Any) -> str:
        audit_id = str(self._audit.record(*args))
        self._stack.pause("firestore")
        return audit_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._audit, name)


@pytest.mark.timeout(120)
def test_firestore_frozen_between_storing_and_applying_answers_503_within_the_bound(
    bounded: CloudSettings, stack: StackManager
) -> None:
    [checkout] = build_corpus(1, seed=14).deliveries[:1]
    service = storm_service(bounded)
    service.audit = _FreezesAfterStoring(service.audit, stack)
    try:
        status, seconds = timed(lambda: post(service, checkout))
    finally:
        stack.resume("firestore")
    # The apply met the deadline; writing the failure and a parking would each have
    # waited it out again, so the provider gets its 503 while it is still listening.
    assert status == 503 and seconds < BOUND_S
    assert set(_audit_outcomes(bounded).values()) == {"received"}  # stored, replayable
    service.audit = service.audit._audit
    assert post(service, checkout) == 200  # the provider's retry applies it, once
    assert post(service, checkout) == 200
    assert _count(bounded, OUTBOX) == 1


class _CountingService:
    """The webhook service, counting POSTs so the test can strike mid-run."""

    def __init__(self, service: WebhookService) -> None:
        self._service = service
        self._count = 0
        self._lock = threading.Condition()

    def handle(self, *args: Any) -> Any:
        with self._lock:
            self._count += 1
            self._lock.notify_all()
        return self._service.handle(*args)

    def reached(self, n: int, timeout_s: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self._count >= n, timeout=timeout_s)


@pytest.mark.timeout(120)
def test_firestore_killed_answers_503_and_after_restart_the_retry_applies(
    bounded: CloudSettings, stack: StackManager
) -> None:
    [checkout] = build_corpus(1, seed=13).deliveries[:1]
    service = storm_service(bounded)
    stack.kill("firestore")
    try:
        status, seconds = timed(lambda: post(service, checkout))
    finally:
        stack.up()  # starts what is not running (an empty Firestore) and provisions
    assert status == 503 and seconds < BOUND_S
    # The provider retries on its schedule; the client reconnects to the new server
    # (gRPC backs off reconnecting for a few seconds after refused connections).
    retries: list[int] = []
    while not retries or (retries[-1] != 200 and len(retries) < 15):
        time.sleep(0 if not retries else 2)
        retries.append(post(service, checkout))
    assert retries[-1] == 200, retries
    assert post(service, checkout) == 200  # and once more: a duplicate, not a second apply
    assert _count(bounded, OUTBOX) == 1


@pytest.mark.timeout(120)
def test_receipt_consumer_nacks_while_firestore_is_down_and_sends_once_after(
    bounded: CloudSettings, stack: StackManager
) -> None:
    from tests.support import load_function

    build_firestore(bounded).collection(CUSTOMERS).document("acct_1").set(
        {"email": "kim@example.com", "name": "Kim", "locale": "sv-SE", "market": "SE"}
    )
    module = load_function("receipt_email")
    module.service.cache_clear()  # built from this test's environment
    event = invoice_paid()
    handle = module.service().handle

    with outage(stack, "firestore"):
        started = time.monotonic()
        with pytest.raises(Exception) as failure:  # the function raises: Pub/Sub redelivers
            handle(event)
        seconds = time.monotonic() - started
    assert seconds < BOUND_S, failure.value
    assert sent_raw_mail(stack.config) == []
    assert _count(bounded, INVOICES) == 0  # no invoice number was spent on the failure

    results = [handle(event) for _ in range(3)]  # the redelivery, and two more
    assert [r.outcome for r in results] == ["sent", "already_sent", "already_sent"]
    assert len(sent_raw_mail(stack.config)) == 1
    [invoice] = [d.to_dict() or {} for d in build_firestore(bounded).collection(INVOICES).stream()]
    assert invoice["sequence"] == 1  # the series has no gap


@pytest.mark.timeout(120)
def test_renewal_charge_nacks_while_firestore_is_down_and_charges_once_after(
    bounded: CloudSettings, stack: StackManager
) -> None:
    now = datetime.now(UTC)
    due = active_subscription(
        "due_outage", payment_method_ref=sandbox.OK, period_start=now - timedelta(days=40)
    )
    gateway = SandboxGateway()
    inline = build_inline(bounded, gateways=GatewayRouter({}, default=gateway))
    seed_subscriptions(build_firestore(bounded), [due])
    inline.tick.run()
    [message] = inline.queue.take()

    with outage(stack, "firestore"):
        started = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017 - nack: Pub/Sub redelivers the message
            inline.worker.handle(message)
        seconds = time.monotonic() - started
    assert seconds < BOUND_S
    assert gateway.charges == 0  # no money moved without its claim

    reports = [inline.worker.handle(message) for _ in range(3)]
    assert gateway.charges == 1
    assert sum(r.outcome == "charged" for r in reports) <= 1, reports


# -- Pub/Sub --------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_webhook_commits_while_pubsub_is_down_and_the_sweep_publishes_after(
    bounded: CloudSettings, stack: StackManager
) -> None:
    checkouts = [
        d
        for d in build_corpus(12, seed=14).in_order()
        if d.payload.get("type") == "checkout.session.completed"
    ][:3]
    service = storm_service(bounded)

    with outage(stack, "pubsub"):
        answers = [timed(partial(post, service, d)) for d in checkouts]

    assert [status for status, _ in answers] == [200] * len(checkouts)
    assert max(seconds for _, seconds in answers) < PUBLISH_TIMEOUT_S + BOUND_S
    outbox = build_firestore(bounded).collection(OUTBOX)
    owed = [d.id for d in outbox.stream() if (d.to_dict() or {}).get("events")]
    assert len(owed) >= 2  # merchant checkouts (a Stripe Billing checkout carries no events)
    assert sorted(_unpublished(bounded)) == sorted(owed)  # durable, and owed to Pub/Sub
    waiting = owed

    assert _sweep(bounded) == len(owed)
    assert _unpublished(bounded) == []
    expected = {
        event_id
        for doc in waiting
        for event_id in _event_ids(outbox.document(doc).get().to_dict() or {})
    }
    got = _pulled_event_ids(bounded, CHURN_EXPORT_SUBSCRIPTION, want=expected)
    assert got == expected  # every event arrived; a copy more is deduplicated downstream


def _event_ids(outbox_entry: dict[str, Any]) -> list[str]:
    return [e.event_id for e in events_of(outbox_entry)]


@pytest.mark.timeout(120)
def test_renewal_tick_fails_while_pubsub_is_down_and_the_next_tick_publishes(
    bounded: CloudSettings, stack: StackManager
) -> None:
    now = datetime.now(UTC)
    due = [
        active_subscription(
            f"due_{i}", payment_method_ref=sandbox.OK, period_start=now - timedelta(days=40)
        )
        for i in range(3)
    ]
    renewals = build_renewals(bounded, gateways=GatewayRouter({}, default=SandboxGateway()))
    seed_subscriptions(build_firestore(bounded), due)

    with outage(stack, "pubsub"):
        started = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017 - the scheduler's job fails, runs again
            renewals.tick.run()
        seconds = time.monotonic() - started
    assert seconds < PUBLISH_TIMEOUT_S + BOUND_S

    renewals.tick.run()
    expected = {s.subscription_id for s in due}
    pulled = pull_messages(
        bounded, "renewal-charge", lambda got: {m.ordering_key for m in got} >= expected
    )
    keys = {m.ordering_key for m in pulled}
    assert keys == {s.subscription_id for s in due}
