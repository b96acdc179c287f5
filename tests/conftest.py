"""Test harness: markers by folder, and one local stack per test run.

Integration and end-to-end tests use the real client libraries against the
real stand-ins. The stack starts once per run (on its own port block, so a
developer's `refrain stack up` is untouched) and is emptied between tests.
Under CI=true a missing emulator fails the run; elsewhere it skips with the
exact install instructions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from refrain.settings import CloudSettings
from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.manager import StackManager
from refrain_tools.stack.prerequisites import MissingPrerequisite, find_emulators

ROOT = Path(__file__).resolve().parent.parent
TEST_PORT_BASE = int(os.environ.get("REFRAIN_TEST_PORT_BASE", "8700"))
# Separate state dirs let two test runs (on separate port bases) not stop each other's stack.
TEST_STATE_DIR = Path(
    os.environ.get("REFRAIN_TEST_STATE_DIR", str(ROOT / ".refrain" / "test-stack"))
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in {"unit", "integration", "e2e"}:
            item.add_marker(getattr(pytest.mark, parts[0]))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_emulators() -> None:
    """Fail under CI, skip elsewhere, when the emulators cannot run here."""
    try:
        find_emulators()
    except MissingPrerequisite as exc:
        if in_ci():
            pytest.fail(f"CI=true and the local stack cannot start: {exc}", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def stack_config() -> StackConfig:
    return StackConfig(port_base=TEST_PORT_BASE, state_dir=TEST_STATE_DIR)


@pytest.fixture(scope="session")
def stack(stack_config: StackConfig) -> Iterator[StackManager]:
    require_emulators()
    manager = StackManager(stack_config)
    manager.down()  # a previous run killed mid-way may have left its servers
    manager.up()
    try:
        yield manager
    finally:
        manager.down()


@pytest.fixture
def cloud(stack: StackManager, monkeypatch: pytest.MonkeyPatch) -> CloudSettings:
    """Empty stack, with the environment pointing every client library at it."""
    stack.reset()
    for key, value in stack.config.client_environment().items():
        monkeypatch.setenv(key, value)
    return CloudSettings()
