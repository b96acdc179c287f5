"""Reproducible deployable sources for the Cloud Functions.

One zip per function source folder: the folder's files (main.py at the root),
the `refrain` library package, and a requirements.txt exported from uv.lock.
Same inputs give the same bytes: entries are sorted, timestamps and permissions
fixed, caches left out. Terraform uploads each archive under its sha256, so an
unchanged build deploys nothing and a changed one is a new object.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from refrain.topology import TOPOLOGY, Function

EXPORT_COMMAND = ("export", "--frozen", "--no-default-groups", "--no-hashes", "--no-emit-project")
_SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "tests"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
_SKIPPED_NAMES = frozenset({".DS_Store", "requirements.txt"})
# 1980-01-01 is the earliest time a zip entry can carry.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
MANIFEST = "manifest.json"


class PackagingError(RuntimeError):
    """A function source cannot be packaged; the message says what is missing."""


@dataclass(frozen=True)
class Package:
    source: str
    file: str
    sha256: str
    size: int
    functions: tuple[str, ...]
    entry_points: tuple[str, ...]
    files: int


def export_requirements(project_root: Path) -> str:
    """Pinned runtime requirements from uv.lock (no dev tools, no hashes, not the project)."""
    uv = Path(sys.executable).with_name("uv")
    command = str(uv) if uv.exists() else shutil.which("uv")
    if command is None:
        raise PackagingError("uv not found: run scripts/setup.sh (it installs uv into .venv)")
    done = subprocess.run(
        [command, *EXPORT_COMMAND],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise PackagingError(f"uv export failed: {done.stderr.strip()}")
    return done.stdout


def _wanted(relative: Path) -> bool:
    if any(part in _SKIPPED_DIRS for part in relative.parts[:-1]):
        return False
    name = relative.name
    return name not in _SKIPPED_NAMES and not name.endswith(_SKIPPED_SUFFIXES)


def _walk(base: Path) -> Iterator[Path]:
    for path in base.rglob("*"):
        if path.is_file() and _wanted(path.relative_to(base)):
            yield path


def archive_entries(
    function_dir: Path, library_dir: Path, requirements: str
) -> list[tuple[str, bytes]]:
    """(name in zip, bytes) for one function source, sorted by name."""
    if not (function_dir / "main.py").is_file():
        raise PackagingError(f"{function_dir / 'main.py'} not found")
    if not (library_dir / "__init__.py").is_file():
        raise PackagingError(f"{library_dir} is not the refrain package")
    entries: dict[str, bytes] = {"requirements.txt": requirements.encode("utf-8")}
    for path in _walk(function_dir):
        entries[path.relative_to(function_dir).as_posix()] = path.read_bytes()
    for path in _walk(library_dir):
        name = f"refrain/{path.relative_to(library_dir).as_posix()}"
        if name in entries:
            raise PackagingError(f"{function_dir} shadows the library file {name}")
        entries[name] = path.read_bytes()
    return sorted(entries.items())


def write_zip(target: Path, entries: Iterable[tuple[str, bytes]]) -> None:
    """A zip whose bytes depend only on the entries' names and contents."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = _FILE_MODE
            info.create_system = 3  # unix, whatever machine builds it
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    tmp.replace(target)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_packages(
    functions_dir: Path,
    library_dir: Path,
    out_dir: Path,
    requirements: str,
    functions: Sequence[Function] = TOPOLOGY.functions,
) -> list[Package]:
    """Build one archive per source folder and write manifest.json next to them."""
    by_source: dict[str, list[Function]] = {}
    for fn in functions:
        by_source.setdefault(fn.source, []).append(fn)
    missing = [s for s in sorted(by_source) if not (functions_dir / s / "main.py").is_file()]
    if missing:
        raise PackagingError(
            "function sources missing: "
            + ", ".join(f"{functions_dir / s}/main.py" for s in missing)
        )
    packages = []
    for source in sorted(by_source):
        entries = archive_entries(functions_dir / source, library_dir, requirements)
        target = out_dir / f"{source}.zip"
        write_zip(target, entries)
        members = by_source[source]
        packages.append(
            Package(
                source=source,
                file=target.name,
                sha256=_sha256(target),
                size=target.stat().st_size,
                functions=tuple(sorted(f.name for f in members)),
                entry_points=tuple(sorted(f.entry_point for f in members)),
                files=len(entries),
            )
        )
    write_manifest(out_dir, packages, requirements)
    return packages


def write_manifest(out_dir: Path, packages: Sequence[Package], requirements: str) -> Path:
    """What Terraform reads: archive file and sha256 per source (no timestamps: reproducible)."""
    document = {
        "requirements_sha256": hashlib.sha256(requirements.encode("utf-8")).hexdigest(),
        "packages": {
            p.source: {
                "file": p.file,
                "sha256": p.sha256,
                "size": p.size,
                "files": p.files,
                "functions": list(p.functions),
                "entry_points": list(p.entry_points),
            }
            for p in packages
        },
    }
    path = out_dir / MANIFEST
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def build_project(project_root: Path, out_dir: Path | None = None) -> list[Package]:
    """`refrain package`: every deployed function of the repository into dist/functions/."""
    return build_packages(
        functions_dir=project_root / "functions",
        library_dir=project_root / "shared" / "refrain",
        out_dir=out_dir or project_root / "dist" / "functions",
        requirements=export_requirements(project_root),
    )
