"""Knowing when the local system has finished reacting.

Pub/Sub push and the provider simulator deliver asynchronously, so the demo
waits for quiescence: every function's log stopped growing, the simulator has
nothing in flight, and the outbox has nothing left unpublished.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from google.cloud import firestore

from refrain.adapters.firestore_collections import OUTBOX


def _log_sizes(log_dir: Path) -> tuple[int, ...]:
    return tuple(p.stat().st_size for p in sorted(log_dir.glob("*.log")))


def unpublished(db: firestore.Client) -> int:
    query = db.collection(OUTBOX).where(filter=firestore.FieldFilter("published", "==", False))
    return sum(1 for _ in query.select([]).stream())


def wait_quiet(
    log_dir: Path,
    db: firestore.Client,
    busy: Callable[[], bool] = lambda: False,
    settle_s: float = 0.8,
    timeout_s: float = 120.0,
) -> float:
    """Block until nothing has moved for `settle_s`; return the seconds waited."""
    started = time.monotonic()
    last = _log_sizes(log_dir)
    still_since = time.monotonic()
    while time.monotonic() - started < timeout_s:
        time.sleep(0.2)
        now = _log_sizes(log_dir)
        if now != last or busy():
            last, still_since = now, time.monotonic()
            continue
        if time.monotonic() - still_since >= settle_s and unpublished(db) == 0:
            return time.monotonic() - started
    return time.monotonic() - started


def log_entries(path: Path, message: str) -> list[dict[str, object]]:
    """The JSON log lines of one function with this message (malformed lines skipped)."""
    import json

    if not path.exists():
        return []
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        if f'"{message}"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == message:
            entries.append(entry)
    return entries


def wait_for_entries(
    path: Path, message: str, count: int, timeout_s: float = 120.0
) -> list[dict[str, object]]:
    """Block until the function has logged `count` lines with this message."""
    deadline = time.monotonic() + timeout_s
    while True:
        entries = log_entries(path, message)
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.1)
