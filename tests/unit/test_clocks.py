from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from refrain.clocks import CLOCK_FILE_ENV, FileClock, clock_from_env
from refrain.domain.clock import SystemClock


def test_file_clock_follows_the_file(tmp_path: Path) -> None:
    clock = FileClock(tmp_path / "now")
    clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    clock.set(datetime(2026, 3, 1, 12, tzinfo=UTC))
    os.utime(tmp_path / "now", ns=(1, 2))  # a different mtime even within one clock tick
    assert clock.now() == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_naive_instants_in_the_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "now").write_text("2026-01-01T00:00:00")
    with pytest.raises(ValueError):
        FileClock(tmp_path / "now").now()


def test_environment_selects_the_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CLOCK_FILE_ENV, raising=False)
    assert isinstance(clock_from_env(), SystemClock)
    monkeypatch.setenv(CLOCK_FILE_ENV, str(tmp_path / "now"))
    assert isinstance(clock_from_env(), FileClock)
