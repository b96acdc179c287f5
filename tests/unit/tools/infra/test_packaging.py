"""Function archives: the right files at the right places, and the same bytes every build."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from refrain.topology import Function
from refrain_tools import packaging
from tests.support import ROOT

REQUIREMENTS = "pydantic==2.9.2\nfunctions-framework==3.8.1\n"
FUNCTIONS = (
    Function("web", "web_src", "web", "http", public=True),
    Function("tick", "worker_src", "tick", "cloudevent"),
    Function("charge", "worker_src", "charge", "cloudevent"),
)


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """A scratch checkout: two function sources and a copy of the real library."""
    functions = tmp_path / "functions"
    for source in ("web_src", "worker_src"):
        (functions / source).mkdir(parents=True)
        (functions / source / "main.py").write_text(f"# {source}\n")
    (functions / "web_src" / "helpers.py").write_text("X = 1\n")
    (functions / "web_src" / "__pycache__").mkdir()
    (functions / "web_src" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"junk")
    (functions / "web_src" / "requirements.txt").write_text("stale==0\n")
    library = tmp_path / "shared" / "refrain"
    shutil.copytree(
        ROOT / "shared" / "refrain", library, ignore=shutil.ignore_patterns("__pycache__")
    )
    (library / "__pycache__").mkdir()
    (library / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    return functions, library


def _build(functions: Path, library: Path, out: Path) -> list[packaging.Package]:
    return packaging.build_packages(functions, library, out, REQUIREMENTS, FUNCTIONS)


def test_archive_layout(tmp_path: Path) -> None:
    functions, library = _tree(tmp_path)
    packages = _build(functions, library, tmp_path / "dist")
    assert [p.source for p in packages] == ["web_src", "worker_src"]
    with zipfile.ZipFile(tmp_path / "dist" / "web_src.zip") as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {"main.py", "helpers.py", "requirements.txt", "refrain/__init__.py"} <= set(names)
        assert "refrain/topology.py" in names and "refrain/data/catalog.json" in names
        assert archive.read("requirements.txt").decode() == REQUIREMENTS  # ours, not the stale one
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        for info in archive.infolist():
            assert info.date_time == packaging.ZIP_EPOCH
            assert info.external_attr >> 16 == 0o100644
    worker = next(p for p in packages if p.source == "worker_src")
    assert worker.functions == ("charge", "tick")


def test_two_builds_are_byte_identical_whatever_the_mtimes_and_modes(tmp_path: Path) -> None:
    functions, library = _tree(tmp_path)
    first = _build(functions, library, tmp_path / "a")
    for path in [*functions.rglob("*"), *library.rglob("*.py")]:
        if path.is_file():
            os.utime(path, (1_900_000_000, 1_900_000_000))
            path.chmod(0o755)
    second = _build(functions, library, tmp_path / "b")
    assert first == second
    for package in first:
        a = (tmp_path / "a" / package.file).read_bytes()
        b = (tmp_path / "b" / package.file).read_bytes()
        assert a == b
        assert hashlib.sha256(a).hexdigest() == package.sha256
    manifest_a = (tmp_path / "a" / "manifest.json").read_bytes()
    assert manifest_a == (tmp_path / "b" / "manifest.json").read_bytes()


def test_content_change_changes_the_hash_of_that_source_only(tmp_path: Path) -> None:
    functions, library = _tree(tmp_path)
    before = {p.source: p.sha256 for p in _build(functions, library, tmp_path / "a")}
    (functions / "web_src" / "main.py").write_text("# changed\n")
    after = {p.source: p.sha256 for p in _build(functions, library, tmp_path / "b")}
    assert before["web_src"] != after["web_src"]
    assert before["worker_src"] == after["worker_src"]


def test_manifest_is_what_terraform_reads(tmp_path: Path) -> None:
    functions, library = _tree(tmp_path)
    packages = _build(functions, library, tmp_path / "dist")
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text())
    assert set(manifest["packages"]) == {"web_src", "worker_src"}
    for p in packages:
        entry = manifest["packages"][p.source]
        assert (entry["file"], entry["sha256"]) == (p.file, p.sha256)
    expected = hashlib.sha256(REQUIREMENTS.encode()).hexdigest()
    assert manifest["requirements_sha256"] == expected


def test_missing_source_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    functions, library = _tree(tmp_path)
    (functions / "worker_src" / "main.py").unlink()
    with pytest.raises(packaging.PackagingError, match=r"worker_src/main\.py"):
        _build(functions, library, tmp_path / "dist")
    assert not (tmp_path / "dist").exists()


def test_function_file_may_not_shadow_the_library(tmp_path: Path) -> None:
    functions, library = _tree(tmp_path)
    (functions / "web_src" / "refrain").mkdir()
    (functions / "web_src" / "refrain" / "topology.py").write_text("# shadow\n")
    with pytest.raises(packaging.PackagingError, match="shadows"):
        _build(functions, library, tmp_path / "dist")


def test_wrong_library_dir_is_refused(tmp_path: Path) -> None:
    functions, _ = _tree(tmp_path)
    with pytest.raises(packaging.PackagingError, match="not the refrain package"):
        _build(functions, tmp_path, tmp_path / "dist")
