"""Scratch copies of terraform/ that a test may damage, to show a check catching it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import ROOT

TERRAFORM = ROOT / "terraform"
Edit = Callable[[Path, str, str], None]


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A scratch copy of terraform/ a test may damage."""
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform"))
    return copy


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in `path`; fails when it is not there (the tree moved on)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
