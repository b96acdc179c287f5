"""Crash points: kill processing between a side effect and its record, restart, redeliver.

Covered elsewhere (referenced, not duplicated):
- webhook, after commit and before publish: the outbox sweep publishes it exactly once,
  tests/integration/ingest/test_outbox.py
  ::test_crash_between_commit_and_publish_is_repaired_by_the_sweep_exactly_once;
- renewals, after the gateway call and before its record: one charge, one record,
  tests/integration/renewals/test_provider_gateways.py
  ::test_crash_after_the_stripe_call_charges_once_and_records_once and
  tests/integration/renewals/test_flow.py (the webhook overtakes the crashed worker).

Here: the receipt e-mail (after SES accepted, before the `sent` record) and the churn
export flush (after the MERGE committed, before the ack).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from google.api_core.exceptions import DeadlineExceeded

from refrain.adapters.bigquery import build_bigquery
from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import CUSTOMERS, INVOICES, RECEIPT_SENDS
from refrain.adapters.firestore_invoices import (
    FirestoreCustomers,
    FirestoreInvoiceStore,
    FirestoreSendRecords,
)
from refrain.adapters.pubsub import OrderedPublisher, build_publisher, build_subscriber
from refrain.adapters.ses_raw import RawSesMailer, build_raw_ses
from refrain.bootstrap import build_flush
from refrain.churn.flush import flush
from refrain.domain import load_catalog
from refrain.domain.clock import ManualClock
from refrain.domain.events import EventType, to_pubsub_message
from refrain.invoicing import ReceiptConfig
from refrain.invoicing.errors import SendInProgress
from refrain.invoicing.receipts import ReceiptService
from refrain.settings import CloudSettings
from refrain.topology import ANALYTICS_DATASET, CHURN_EXPORT_SUBSCRIPTION, SUBSCRIPTION_EVENTS
from refrain_tools.stack.mailbox import sent_raw_mail
from refrain_tools.stack.manager import StackManager
from tests.unit.churn.factory import sample_event
from tests.unit.invoicing.factories import T0, invoice_paid

LEASE_S = 120.0


class Killed(RuntimeError):
    """Stands for the process dying at the injected point."""


def _kill(*_: Any) -> None:
    raise Killed("process died here")


def _receipts(cloud: CloudSettings, clock: ManualClock, *, crash: bool) -> ReceiptService:
    """A fresh 'instance' of the receipt worker (as after a restart), optionally doomed."""
    db = build_firestore(cloud)
    return ReceiptService(
        catalog=load_catalog(),
        invoices=FirestoreInvoiceStore(db),
        customers=FirestoreCustomers(db),
        sends=FirestoreSendRecords(db, lease_s=LEASE_S),
        mailer=RawSesMailer(build_raw_ses(cloud), None),
        config=ReceiptConfig(sender=cloud.mail_from, account_url="https://account.test"),
        clock=clock,
        crash_after_send=_kill if crash else None,
    )


@pytest.fixture
def customer(cloud: CloudSettings) -> Iterator[None]:
    build_firestore(cloud).collection(CUSTOMERS).document("acct_1").set(
        {"email": "kim@example.com", "name": "Kim", "locale": "sv-SE", "market": "SE"}
    )
    yield


@pytest.mark.timeout(60)
def test_receipt_crash_after_ses_accepted_sends_no_duplicate_before_the_lease_expires(
    cloud: CloudSettings, stack: StackManager, customer: None
) -> None:
    clock = ManualClock(T0 + timedelta(minutes=1))
    event = invoice_paid()
    with pytest.raises(Killed):
        _receipts(cloud, clock, crash=True).handle(event)
    assert len(sent_raw_mail(stack.config)) == 1  # SES accepted it; our record did not commit

    restarted = _receipts(cloud, clock, crash=False)
    for _ in range(3):  # Pub/Sub redelivers within the lease: every time "come back later"
        clock.advance(seconds=30)
        with pytest.raises(SendInProgress):
            restarted.handle(event)
    assert len(sent_raw_mail(stack.config)) == 1
    db = build_firestore(cloud)
    [invoice] = [d.to_dict() or {} for d in db.collection(INVOICES).stream()]
    lease = db.collection(RECEIPT_SENDS).document(invoice["invoice_id"]).get().to_dict() or {}
    assert lease["status"] == "sending"  # the dead worker's lease, still live


@pytest.mark.timeout(60)
def test_receipt_crash_after_ses_accepted_costs_at_most_one_duplicate_after_lease_expiry(
    cloud: CloudSettings, stack: StackManager, customer: None
) -> None:
    """The documented window (refrain.invoicing.receipts, DESIGN invariant 4)."""
    clock = ManualClock(T0 + timedelta(minutes=1))
    event = invoice_paid()
    with pytest.raises(Killed):
        _receipts(cloud, clock, crash=True).handle(event)

    clock.advance(seconds=LEASE_S + 1)
    restarted = _receipts(cloud, clock, crash=False)
    first = restarted.handle(event)
    later = [restarted.handle(event) for _ in range(3)]  # more redeliveries: nothing more

    assert first.outcome == "sent"
    assert [r.outcome for r in later] == ["already_sent"] * 3
    mails = sent_raw_mail(stack.config)
    assert len(mails) == 2  # exactly one duplicate e-mail, never more
    db = build_firestore(cloud)
    [invoice] = [d.to_dict() or {} for d in db.collection(INVOICES).stream()]
    assert all(invoice["number"] in m["raw_data"] for m in mails)  # same document, same number
    record = db.collection(RECEIPT_SENDS).document(invoice["invoice_id"]).get().to_dict() or {}
    assert record["status"] == "sent" and record["message_id"] == first.message_id


def _signal_rows(cloud: CloudSettings) -> list[str]:
    sql = f"SELECT signal_id FROM `{cloud.project}.{ANALYTICS_DATASET}.churn_signals`"
    return [str(r["signal_id"]) for r in build_bigquery(cloud).query(sql).result()]


def _publish_signals(cloud: CloudSettings, n: int) -> None:
    publisher = OrderedPublisher(build_publisher(cloud), cloud.project)
    types = [EventType.ACTIVATED, EventType.RENEWED, EventType.PAYMENT_FAILED]
    for i in range(n):
        event = sample_event(types[i % 3], subscription_id=f"sub_{i % 4}", sequence=i + 1)
        m = to_pubsub_message(event)
        publisher.publish(SUBSCRIPTION_EVENTS, m.data, dict(m.attributes), m.ordering_key)


def _queue_is_empty(cloud: CloudSettings) -> bool:
    subscriber = build_subscriber(cloud)
    path = subscriber.subscription_path(cloud.project, CHURN_EXPORT_SUBSCRIPTION)
    try:
        got = subscriber.pull(request={"subscription": path, "max_messages": 10}, timeout=2)
        return not got.received_messages
    except DeadlineExceeded:
        return True
    finally:
        subscriber.close()


@pytest.mark.timeout(90)
def test_export_crash_after_merge_before_ack_redelivers_without_duplicate_rows(
    cloud: CloudSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REFRAIN_SUBSCRIBER_PEPPER", raising=False)
    n = 12
    _publish_signals(cloud, n)
    doomed = build_flush(cloud=cloud)
    batch: list[str] = []

    def crash(ack_ids: list[str]) -> None:
        batch.extend(ack_ids)
        raise Killed("died after the MERGE, before the ack")

    with pytest.raises(Killed):
        flush(doomed.queue, doomed.exporter, 100, crash_after_write=crash)
    assert len(batch) == n and len(set(_signal_rows(cloud))) == n  # written, not acked
    # The dead instance's ack deadline runs out: Pub/Sub hands the batch out again.
    # (Setting the deadline to 0 is that expiry without waiting the 60 s.)
    doomed.queue.nack(batch)
    doomed.close()

    restarted = build_flush(cloud=cloud)
    try:
        done = list(restarted(100).done)
        deadline = time.monotonic() + 10
        while len(done) < n and time.monotonic() < deadline:
            done += restarted(100).done  # the emulator may hand the batch back in pieces
    finally:
        restarted.close()
    assert len(done) == n  # every redelivered message was acked as done
    rows = _signal_rows(cloud)
    assert len(rows) == n and len(set(rows)) == n  # MERGE on signal_id: nothing twice
    assert _queue_is_empty(cloud)  # and this time it was acked
