"""No secret enters the repository: detect-secrets over every source file, against a baseline.

The tree is walked (CI runs in a fresh clone, so no git is needed), skipping
virtualenvs, tool folders and build output. Known test-only values (Stripe
``whsec_`` test secrets, Adyen's published test HMAC key, moto's fake keys,
the demo pepper) are listed in the committed ``.secrets.baseline``, because
they live in many files; our own test files mark theirs inline with
``# pragma: allowlist secret``. Any finding that is in neither fails.
Regenerate the baseline after reviewing a new test-only value with
``.venv/bin/detect-secrets scan --baseline .secrets.baseline``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from detect_secrets.core.secrets_collection import SecretsCollection
from detect_secrets.settings import default_settings

from tests.support import ROOT

BASELINE = ROOT / ".secrets.baseline"
SKIP_DIRS = frozenset(
    {
        ".venv", ".git", ".tools", ".refrain", "dist", "__pycache__", "node_modules",
        ".mypy_cache", ".ruff_cache", ".pytest_cache", ".terraform", ".hypothesis",
    }
)  # fmt: skip
TEXT_SUFFIXES = frozenset(
    {".py", ".tf", ".tfvars", ".hcl", ".yaml", ".yml", ".json", ".md", ".toml", ".cfg",
     ".ini", ".sh", ".txt", ".env", ".j2", ".html", ".sql", ".lock", ".js", ".css"}
)  # fmt: skip
TEXT_NAMES = frozenset({"Makefile", "Dockerfile", ".env", ".gitignore"})
MAX_BYTES = 2 * 1024 * 1024


def source_files() -> list[str]:
    """Repository-relative paths of every text file a commit could carry."""
    found: list[str] = []
    for directory, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in files:
            path = Path(directory) / name
            if name == ".secrets.baseline":
                continue
            if path.suffix not in TEXT_SUFFIXES and name not in TEXT_NAMES:
                continue
            if path.stat().st_size > MAX_BYTES:
                continue
            found.append(str(path.relative_to(ROOT)))
    return found


def findings() -> set[tuple[str, str, str]]:
    collection = SecretsCollection(root=str(ROOT))
    with default_settings():
        for name in source_files():
            collection.scan_file(name)
    return {(name, secret.type, secret.secret_hash) for name, secret in collection}


def baseline() -> set[tuple[str, str, str]]:
    data = json.loads(BASELINE.read_text())
    return {
        (name, entry["type"], entry["hashed_secret"])
        for name, entries in data["results"].items()
        for entry in entries
    }


def test_the_walk_covers_the_code_and_skips_the_environment() -> None:
    files = source_files()
    assert "shared/refrain/ingest/service.py" in files
    assert not any(f.startswith((".venv/", ".git/", ".tools/")) for f in files)


def test_no_secret_outside_the_reviewed_baseline() -> None:
    new = sorted(findings() - baseline())
    assert not new, (
        "possible secrets (mark test-only values `# pragma: allowlist secret`, or review and "
        f"add them to .secrets.baseline): {new}"
    )


def test_the_baseline_holds_only_test_and_demo_values() -> None:
    """A production path in the baseline would whitelist a real secret forever."""
    allowed = ("tests/", "bench/", "tools/refrain_tools/demo/", "tools/refrain_tools/simulator/")
    listed = {name for name, _, _ in baseline()}
    assert all(name.startswith(allowed) for name in listed), sorted(listed)
