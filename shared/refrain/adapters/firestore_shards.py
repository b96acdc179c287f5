"""Shard numbers that keep time-ordered indexes off a single hot range.

Firestore writes an index entry for every indexed field of every write. Where the
indexed value grows with time (a renewal's next deadline, an outbox entry's creation
time) all writes land at the end of one key range, and Google's guidance caps such a
range at about 500 writes/s. A small shard number as the first field of the composite
index splits the range into ``SHARDS`` ranges written side by side; the readers (the
renewal tick, the outbox sweep) ask each shard and merge the answers in time order.

The number is a pure function of the document's key, so it never changes for a
document, and ``SHARDS`` is part of the stored data: changing it means rewriting every
stored shard number (``refrain renewals backfill-shards`` does, for subscriptions).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TypeVar

SHARDS = 16
T = TypeVar("T")
# What the shards' streams are merged by: a time, then the document id for ties.
OrderKey = tuple[datetime, str]


def shard_of(key: str) -> int:
    """The shard of a document key: stable across processes and releases."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big") % SHARDS


def merged(streams: Iterable[Iterator[T]], key: Callable[[T], OrderKey]) -> Iterator[T]:
    """The shards' answers as one stream in ``key`` order (each stream already is)."""
    return heapq.merge(*streams, key=key)
