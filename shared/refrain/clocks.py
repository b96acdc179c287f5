"""Which clock a function runs on: the system's, or a shared simulated one.

The demo and end-to-end tests travel months in minutes. Every function
process reads the simulated "now" from one small file named by
REFRAIN_CLOCK_FILE (written by the scenario), so the webhook, the renewal
worker and the consumers agree on the date. Unset, functions use real time.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from refrain.domain.clock import Clock, SystemClock, ensure_utc

CLOCK_FILE_ENV = "REFRAIN_CLOCK_FILE"


class FileClock:
    """Reads an ISO-8601 instant from a file; re-reads only when the file changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: float | None = None
        self._value: datetime | None = None

    def now(self) -> datetime:
        stamp = self._path.stat().st_mtime_ns
        if stamp != self._stamp or self._value is None:
            self._value = ensure_utc(datetime.fromisoformat(self._path.read_text().strip()))
            self._stamp = stamp
        return self._value

    def set(self, at: datetime) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(ensure_utc(at).isoformat())
        tmp.replace(self._path)


def clock_from_env() -> Clock:
    path = os.environ.get(CLOCK_FILE_ENV)
    return FileClock(Path(path)) if path else SystemClock()
