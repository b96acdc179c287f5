"""Shard numbers: stable, spread, and the merged streams keep time order."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from refrain.adapters.firestore_shards import SHARDS, merged, shard_of

T0 = datetime(2027, 1, 1, tzinfo=UTC)


def test_a_key_keeps_its_shard_across_releases() -> None:
    # Stored in every subscription and outbox entry: a change would hide documents from
    # the tick and the sweep until they are rewritten, so these values are pinned.
    # (The first 4 bytes of SHA-256 of the UTF-8 key, big-endian, modulo 16.)
    assert (shard_of("sub_1"), shard_of("stripe:evt_1")) == (12, 9)


def test_keys_spread_over_every_shard() -> None:
    counts = Counter(shard_of(f"sub_{i}") for i in range(16_000))
    assert set(counts) == set(range(SHARDS))
    assert max(counts.values()) < 1.15 * 16_000 / SHARDS  # no shard is a hot spot


@given(st.text(max_size=300))
def test_every_key_has_a_shard(key: str) -> None:
    assert 0 <= shard_of(key) < SHARDS


@given(st.lists(st.integers(0, 10_000), max_size=200), st.integers(0, 2**32))
def test_merged_shards_come_out_in_time_order(minutes: list[int], seed: int) -> None:
    docs = [(T0 + timedelta(minutes=m), f"d{i}") for i, m in enumerate(minutes)]
    random.Random(seed).shuffle(docs)
    streams: list[list[tuple[datetime, str]]] = [[] for _ in range(SHARDS)]
    for doc in docs:
        streams[shard_of(doc[1])].append(doc)
    got = list(merged((iter(sorted(s)) for s in streams), key=lambda d: d))
    assert got == sorted(docs)
