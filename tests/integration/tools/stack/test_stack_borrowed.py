"""`StackManager.borrowed()`: a running stack is reused and left running; one it starts, it stops.

The first test borrows the session's stack (already up); the second starts a
stack of its own on spare ports and checks that nothing of it survives the block.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.manager import StackManager, group_alive, port_open
from tests.conftest import TEST_PORT_BASE, require_emulators


def _pids(manager: StackManager) -> dict[str, int]:
    return {name: svc.pid for name, svc in manager.read_state().items()}


def test_a_running_stack_is_reused_and_left_running(stack: StackManager) -> None:
    before = _pids(stack)
    borrower = StackManager(stack.config)
    with borrower.borrowed() as started:
        assert started is False
        assert _pids(borrower) == before, "nothing new was started"
    assert _pids(stack) == before
    assert all(group_alive(pid) for pid in before.values())
    config = stack.config
    assert all(
        port_open(config.host, port)
        for port in (config.firestore_port, config.pubsub_port, config.ses_port)
    )


@pytest.mark.timeout(240)
def test_a_stack_it_started_is_stopped_even_when_the_block_fails(tmp_path: Path) -> None:
    require_emulators()
    config = StackConfig(port_base=TEST_PORT_BASE + 60, state_dir=tmp_path / "stack")
    manager = StackManager(config)
    seen: dict[str, int] = {}
    with pytest.raises(RuntimeError, match="the block failed"), manager.borrowed() as started:
        assert started is True
        seen.update(_pids(manager))
        assert set(seen) == {"firestore", "pubsub", "bigquery", "ses", "auth", "storage"}
        assert all(group_alive(pid) for pid in seen.values())
        raise RuntimeError("the block failed")
    assert not any(group_alive(pid) for pid in seen.values())
    assert not port_open(config.host, config.firestore_port)
    assert not manager.state_path.exists()
