"""The real build: uv.lock export, every deployed source, twice, same bytes; and they import."""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from refrain.topology import TOPOLOGY
from refrain_tools import packaging
from tests.support import ROOT

SOURCES = sorted({f.source for f in TOPOLOGY.functions})


@pytest.fixture(scope="module")
def requirements() -> str:
    return packaging.export_requirements(ROOT)


def test_requirements_are_pinned_runtime_dependencies(requirements: str) -> None:
    pins = [line for line in requirements.splitlines() if line and line[0] not in " #"]
    names = {line.split("==")[0].lower() for line in pins}
    assert all("==" in line for line in pins), pins
    assert {"functions-framework", "google-cloud-firestore", "pydantic"} <= names
    assert not names & {"pytest", "ruff", "mypy", "moto", "bqemulator", "hypothesis"}
    assert "refrain" not in names  # the library is vendored into the zip, not installed


def _functions_dir(tmp_path: Path) -> Path:
    """The repository's function sources; a stub stands in for one not written yet."""
    target = tmp_path / "functions"
    for source in SOURCES:
        real = ROOT / "functions" / source
        if (real / "main.py").is_file():
            shutil.copytree(real, target / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (target / source).mkdir(parents=True)
            (target / source / "main.py").write_text(f'"""stub for {source}"""\n')
    return target


def test_two_builds_of_the_repository_are_identical(requirements: str, tmp_path: Path) -> None:
    functions = _functions_dir(tmp_path)
    library = ROOT / "shared" / "refrain"
    first = packaging.build_packages(functions, library, tmp_path / "a", requirements)
    second = packaging.build_packages(functions, library, tmp_path / "b", requirements)
    assert [p.source for p in first] == SOURCES
    assert first == second
    for package in first:
        data = (tmp_path / "a" / package.file).read_bytes()
        assert data == (tmp_path / "b" / package.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == package.sha256
        print(f"{package.sha256}  {package.file}")


@pytest.mark.parametrize("source", SOURCES)
def test_packaged_function_imports_from_the_archive_alone(
    source: str, requirements: str, tmp_path: Path
) -> None:
    if not (ROOT / "functions" / source / "main.py").is_file():
        pytest.skip(f"functions/{source}/main.py not written yet")
    out = tmp_path / "dist"
    packaging.build_packages(
        ROOT / "functions",
        ROOT / "shared" / "refrain",
        out,
        requirements,
        [f for f in TOPOLOGY.functions if f.source == source],
    )
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(out / f"{source}.zip") as archive:
        archive.extractall(unpacked)
    entry_points = [f.entry_point for f in TOPOLOGY.functions if f.source == source]
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import main, refrain; "
        "assert refrain.__file__.startswith(sys.argv[1]), refrain.__file__; "
        "missing = [e for e in sys.argv[2:] if not callable(getattr(main, e, None))]; "
        "assert not missing, missing"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(unpacked), *entry_points],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "GOOGLE_CLOUD_PROJECT": "refrain-package-probe"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _imported_top_levels(source: str) -> set[str]:
    """Every top-level module a Python file imports, at any depth (lazy imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _distribution(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_archives_hold_runtime_only_and_import_only_what_they_ship(
    requirements: str, tmp_path: Path
) -> None:
    """No tooling in a deployed archive, and no import a runtime pin does not provide.

    Every import in every shipped file (function-level imports too) must be the standard
    library, the archive's own modules, or a module of a distribution pinned in the
    archive's requirements.txt: a dev-only or tooling dependency fails here.
    """
    pinned = {
        _distribution(line.split("==")[0])
        for line in requirements.splitlines()
        if line and line[0] not in " #"
    }
    providers = importlib.metadata.packages_distributions()
    out = tmp_path / "dist"
    packages = packaging.build_packages(
        ROOT / "functions", ROOT / "shared" / "refrain", out, requirements
    )
    for package in packages:
        with zipfile.ZipFile(out / package.file) as archive:
            names = archive.namelist()
            assert not [n for n in names if n.startswith("refrain_tools/")], package.file
            own = {n.split("/")[0].removesuffix(".py") for n in names}
            unshipped = set()
            for name in (n for n in names if n.endswith(".py")):
                for module in _imported_top_levels(archive.read(name).decode("utf-8")):
                    if module in sys.stdlib_module_names or module in own:
                        continue
                    if not {_distribution(d) for d in providers.get(module, [])} & pinned:
                        unshipped.add((name, module))
            assert not unshipped, f"{package.file} imports what it does not ship: {unshipped}"
        print(f"{package.file}: {package.size:,} bytes, {package.files} files")
