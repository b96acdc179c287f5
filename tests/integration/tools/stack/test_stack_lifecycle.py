"""`refrain stack` as an operator runs it: up, env, status, down leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from refrain_tools.stack.manager import group_alive, port_open
from tests.conftest import TEST_PORT_BASE, require_emulators

REFRAIN = [sys.executable, "-m", "refrain_tools.cli"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REFRAIN, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.mark.timeout(300)
def test_up_env_status_down_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    require_emulators()
    env = {
        **os.environ,
        "REFRAIN_STACK_PORT_BASE": str(TEST_PORT_BASE + 50),
        "REFRAIN_STACK_STATE_DIR": str(tmp_path / "stack"),
    }
    up = _run(["stack", "up"], env)
    assert up.returncode == 0, up.stderr
    try:
        state = json.loads((tmp_path / "stack" / "state.json").read_text())["services"]
        assert set(state) == {"firestore", "pubsub", "bigquery", "ses", "auth", "storage"}
        ports = [p for svc in state.values() for p in svc["ports"]]
        assert all(port_open("127.0.0.1", p) for p in ports)

        exports = _run(["stack", "env"], env).stdout.splitlines()
        assert f"export FIRESTORE_EMULATOR_HOST=127.0.0.1:{TEST_PORT_BASE + 51}" in exports
        assert any(line.startswith("export REFRAIN_SES_ENDPOINT=http://") for line in exports)
        assert f"export FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:{TEST_PORT_BASE + 56}" in exports

        status = json.loads(_run(["stack", "status", "--json"], env).stdout)
        assert all(row["answering"] for row in status.values())

        again = _run(["stack", "up"], env)  # idempotent: nothing new started
        assert again.returncode == 0, again.stderr
        assert json.loads((tmp_path / "stack" / "state.json").read_text())["services"] == state
    finally:
        down = _run(["stack", "down"], env)
    assert down.returncode == 0, down.stderr
    assert not any(group_alive(svc["pid"]) for svc in state.values())
    assert not any(port_open("127.0.0.1", p) for p in ports)
    assert not (tmp_path / "stack" / "state.json").exists()


def test_up_refuses_a_port_that_something_else_holds(tmp_path: Path) -> None:
    require_emulators()
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", TEST_PORT_BASE + 81))
        squatter.listen()
        env = {
            **os.environ,
            "REFRAIN_STACK_PORT_BASE": str(TEST_PORT_BASE + 80),
            "REFRAIN_STACK_STATE_DIR": str(tmp_path / "stack"),
        }
        result = _run(["stack", "up"], env)
    assert result.returncode != 0
    assert f"port {TEST_PORT_BASE + 81}" in result.stderr
    assert not (tmp_path / "stack" / "state.json").exists()
