"""Stamp the shard numbers on documents written before they existed.

The renewal tick asks each shard for due subscriptions and the outbox sweep each shard
for unpublished entries (refrain.adapters.firestore_shards); a document without its
shard number is seen by neither. Every write since the shards were introduced stamps
them, so this is run once when upgrading a deployment that already holds subscriptions
(docs/OPERATIONS.md), before the new functions serve. Idempotent: it writes only
documents whose number is missing or wrong, so a second run writes nothing, and an
interrupted run is simply run again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from refrain.adapters.firestore import query_pages
from refrain.adapters.firestore_collections import OUTBOX, SUBSCRIPTIONS
from refrain.adapters.firestore_ledger import DUE_SHARD
from refrain.adapters.firestore_outbox import SWEEP_SHARD, entry_key
from refrain.adapters.firestore_shards import shard_of

BATCH = 400  # writes per commit (Firestore allows 500)


@dataclass
class ShardReport:
    subscriptions_read: int = 0
    subscriptions_stamped: int = 0
    entries_read: int = 0
    entries_stamped: int = 0


def backfill_shards(db: firestore.Client, *, dry_run: bool = False, page: int = 500) -> ShardReport:
    report = ShardReport()
    stamps: list[tuple[Any, dict[str, int]]] = []
    for snap in _pages(db.collection(SUBSCRIPTIONS), page):
        report.subscriptions_read += 1
        data = snap.to_dict() or {}
        want = shard_of(str(data.get("subscription_id", "")))
        if "subscription_id" in data and data.get(DUE_SHARD) != want:
            stamps.append((snap.reference, {DUE_SHARD: want}))
            report.subscriptions_stamped += 1
    # Only unpublished entries are ever looked for by shard; published ones need nothing.
    unpublished = db.collection(OUTBOX).where(
        filter=firestore.FieldFilter("published", "==", False)
    )
    for snap in _pages(unpublished, page):
        report.entries_read += 1
        record = snap.to_dict() or {}
        want = shard_of(entry_key(snap.id, record))
        if record.get(SWEEP_SHARD) != want:
            stamps.append((snap.reference, {SWEEP_SHARD: want}))
            report.entries_stamped += 1
    if not dry_run:
        for start in range(0, len(stamps), BATCH):
            batch = db.batch()
            for ref, fields in stamps[start : start + BATCH]:
                batch.update(ref, fields)
            batch.commit()
    return report


def _pages(query: Any, page: int) -> Iterator[Any]:
    """Every document of ``query`` in document-id order, ``page`` per round trip."""
    for snaps in query_pages(query.order_by("__name__"), page):
        yield from snaps
