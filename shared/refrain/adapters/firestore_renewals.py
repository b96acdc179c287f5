"""Firestore and Pub/Sub glue for the renewal tick and the charge worker.

The due query (one composite index, see refrain_tools.infra.firestore_spec), once
per shard (refrain.adapters.firestore_shards), the answers merged in deadline order:

    subscriptions where billing_mode == "merchant_managed"
                    and state in (trialing, active, past_due, on_hold, paused)
                    and due_shard == s
                    and next_deadline_ts <= now
                  order by next_deadline_ts, page by cursor

It returns only due documents, so a tick reads O(due) plus one billed read per empty
shard, whatever the size of the collection. ``documents_read`` counts what it returned
(for the bench).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.cloud import firestore, pubsub_v1  # type: ignore[attr-defined]

from refrain.adapters.firestore import query_pages
from refrain.adapters.firestore_charges import charge_from_document
from refrain.adapters.firestore_collections import CHARGES, ENTITLEMENTS, SUBSCRIPTIONS, keyed
from refrain.adapters.firestore_ledger import DUE_SHARD, entitlement_entry, stored_subscription
from refrain.adapters.firestore_shards import SHARDS, merged
from refrain.domain.charges import PENDING
from refrain.domain.entitlement import access_of
from refrain.domain.outcome import ChargeRequest
from refrain.domain.subscription import DUE_STATES, BillingMode, Subscription
from refrain.renewals.messages import ChargeMessage
from refrain.topology import RENEWAL_CHARGES

SEED_BATCH = 250  # two writes each (the subscription, its entitlement entry): 500 a batch


@dataclass
class FirestoreDueSource:
    db: firestore.Client
    documents_read: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def due_pages(self, now: datetime, page_size: int) -> Iterator[list[Subscription]]:
        """Every shard's due subscriptions, merged in deadline order, in pages."""
        streams = [self._due_in(shard, now, page_size) for shard in range(SHARDS)]
        page: list[Subscription] = []
        for _, sub in merged(streams, key=lambda due: due[0]):
            page.append(sub)
            if len(page) == page_size:
                yield page
                page = []
        if page:
            yield page

    def _due_in(
        self, shard: int, now: datetime, page_size: int
    ) -> Iterator[tuple[tuple[datetime, str], Subscription]]:
        """One shard's due subscriptions in deadline order, read a page at a time."""
        query = (
            self.db.collection(SUBSCRIPTIONS)
            .where(
                filter=firestore.FieldFilter(
                    "billing_mode", "==", BillingMode.MERCHANT_MANAGED.value
                )
            )
            .where(filter=firestore.FieldFilter("state", "in", [s.value for s in DUE_STATES]))
            .where(filter=firestore.FieldFilter(DUE_SHARD, "==", shard))
            .where(filter=firestore.FieldFilter("next_deadline_ts", "<=", now))
            .order_by("next_deadline_ts")
        )
        for snaps in query_pages(query, page_size):
            with self._lock:
                self.documents_read += max(len(snaps), 1)  # an empty answer bills one read
            for snap in snaps:
                data = snap.to_dict() or {}
                yield (data["next_deadline_ts"], snap.id), Subscription.from_dict(data)


@dataclass
class FirestorePendingCharges:
    db: firestore.Client

    def pending_charge(self, subscription_id: str) -> tuple[ChargeRequest, Subscription] | None:
        snap = keyed(self.db, SUBSCRIPTIONS, subscription_id).get()
        if not snap.exists:
            return None
        sub = Subscription.from_dict(snap.to_dict() or {})
        charge_id = sub.pending_charge_key()
        if charge_id is None:
            return None
        charge = keyed(self.db, CHARGES, charge_id).get()
        data = charge.to_dict() if charge.exists else None
        if not data or data.get("status") != PENDING:
            return None
        return charge_from_document(charge_id, data), sub


@dataclass
class PubSubChargeQueue:
    """Publishes a page of messages concurrently, then waits for every one."""

    client: pubsub_v1.PublisherClient
    project: str
    topic: str = RENEWAL_CHARGES
    timeout_s: float = 8.0

    def send(self, messages: Sequence[ChargeMessage]) -> None:
        path = self.client.topic_path(self.project, self.topic)
        futures = [
            (
                m,
                self.client.publish(
                    path, m.encode(), ordering_key=m.subscription_id, **m.attributes
                ),
            )
            for m in messages
        ]
        failed: Exception | None = None
        deadline = time.monotonic() + self.timeout_s  # for the page, not per message
        for message, future in futures:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception as exc:  # resume the key, then fail the tick: the next one retries
                self.client.resume_publish(path, message.subscription_id)
                failed = exc
        if failed is not None:
            raise failed


def seed_subscriptions(
    db: firestore.Client, subs: Sequence[Subscription], batch_size: int = SEED_BATCH
) -> None:
    """Write subscriptions as the ledger stores them (with their entitlement entries), in
    batches (tests, bench, demo)."""
    for start in range(0, len(subs), batch_size):
        batch = db.batch()
        for sub in subs[start : start + batch_size]:
            doc: dict[str, Any] = stored_subscription(sub)
            batch.set(keyed(db, SUBSCRIPTIONS, sub.subscription_id), doc)
            entry = entitlement_entry(access_of(sub))
            batch.set(keyed(db, ENTITLEMENTS, sub.account_id), entry, merge=True)
        batch.commit()
