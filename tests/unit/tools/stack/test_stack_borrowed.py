"""`StackManager.borrowed()` decides what to stop from what was running before (no servers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.manager import RunningService, StackError, StackManager


class _Recording(StackManager):
    """up/down recorded; 'running before' is a state entry for this test's own live group."""

    def __init__(self, tmp: Path, running_before: bool, up_fails: bool = False) -> None:
        super().__init__(StackConfig(port_base=9390, state_dir=tmp))
        self.calls: list[str] = []
        self.running_before = running_before
        self.up_fails = up_fails

    def read_state(self) -> dict[str, RunningService]:
        if not self.running_before:
            return {}
        return {"firestore": RunningService("firestore", os.getpgrp(), [9391], "log")}

    def up(self) -> float:
        self.calls.append("up")
        if self.up_fails:
            raise StackError("firestore did not answer")
        return 0.0

    def down(self, timeout_s: float = 15.0) -> list[str]:
        self.calls.append("down")
        return []


def test_a_running_stack_is_completed_but_never_stopped(tmp_path: Path) -> None:
    manager = _Recording(tmp_path, running_before=True)
    with manager.borrowed() as started:
        assert started is False
    assert manager.calls == ["up"]


def test_a_started_stack_is_stopped_unless_kept(tmp_path: Path) -> None:
    manager = _Recording(tmp_path, running_before=False)
    with manager.borrowed() as started:
        assert started is True
    assert manager.calls == ["up", "down"]
    kept = _Recording(tmp_path, running_before=False)
    with kept.borrowed(keep=True) as started:
        assert started is True
    assert kept.calls == ["up"]


def test_a_failed_start_or_body_still_stops_what_it_started(tmp_path: Path) -> None:
    failing = _Recording(tmp_path, running_before=False, up_fails=True)
    with pytest.raises(StackError), failing.borrowed():
        pytest.fail("the body must not run when the stack did not start")
    assert failing.calls == ["up", "down"]
    manager = _Recording(tmp_path, running_before=False)
    with pytest.raises(KeyError), manager.borrowed():
        raise KeyError("body")
    assert manager.calls == ["up", "down"]
