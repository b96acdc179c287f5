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

from refrain.config_contract import ALWAYS_REQUIRED
from refrain.topology import TOPOLOGY
from refrain_tools import packaging
from refrain_tools.infra import configcheck
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
    # The dunning model trains with scikit-learn in tooling; functions only read its JSON.
    assert "google-cloud-storage" in names
    assert not names & {"scikit-learn", "numpy", "scipy", "joblib", "gcp-storage-emulator"}
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


def _unpacked(source: str, requirements: str, tmp_path: Path) -> Path:
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
    return unpacked


def _start(
    unpacked: Path, entry_point: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Import the archive's main.py as Cloud Run would (FUNCTION_TARGET set), nothing else."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import main, refrain; "
        "assert refrain.__file__.startswith(sys.argv[1]), refrain.__file__; "
        "assert callable(getattr(main, sys.argv[2], None)), sys.argv[2]"
    )
    return subprocess.run(
        [sys.executable, "-c", probe, str(unpacked), entry_point],
        cwd=unpacked.parent,
        env={"PATH": "/usr/bin:/bin", **env, "FUNCTION_TARGET": entry_point},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("function", [f.name for f in TOPOLOGY.functions])
def test_each_packaged_function_starts_in_cloud_mode_or_names_what_is_missing(
    function: str, requirements: str, tmp_path: Path
) -> None:
    """The dry cloud start: the archive alone, the environment Terraform gives it (every
    provider on), no emulator. It starts; without any setting it always requires, it
    refuses with the one error naming that setting."""
    fn = next(f for f in TOPOLOGY.functions if f.name == function)
    unpacked = _unpacked(fn.source, requirements, tmp_path)
    env = configcheck.cloud_environment(ROOT / "terraform", function)
    started = _start(unpacked, fn.entry_point, env)
    assert started.returncode == 0, started.stderr[-3000:]
    for name in ALWAYS_REQUIRED[function]:
        refused = _start(unpacked, fn.entry_point, {k: v for k, v in env.items() if k != name})
        assert refused.returncode != 0
        last = refused.stderr.strip().splitlines()[-1]
        assert last.startswith("refrain.config_contract.IncompleteConfiguration: ")
        assert f"{function}: {name}" in last, last


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
            if package.file.startswith("receipt_email"):  # the PDF font ships, already cut
                assert "refrain/invoicing/fonts/ReceiptSans.ttf" in names, names
            if package.file.startswith("account_api"):  # the account page it serves
                page = ("index.html", "page.js", "page.css", "favicon.svg")
                assert {f"refrain/account/page/{n}" for n in page} <= set(names), names
        print(f"{package.file}: {package.size:,} bytes, {package.files} files")
