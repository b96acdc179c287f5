"""Tools the infrastructure checks run: terraform and checkov, each found once per session.

Outside CI a missing tool skips with a notice; under CI=true it fails the run.
Checkov runs once per session (it takes seconds) and its duration is reported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import in_ci
from tests.support import ROOT

TERRAFORM_DIR = ROOT / "terraform"
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
# No network: no Prisma Cloud mapping, guidelines or version check; bounded request timeouts.
CHECKOV_ENV = {
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_NO_GUIDELINES": "TRUE",
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE",
    "CHECKOV_REQUEST_CONNECT_TIMEOUT": "2",
    "CHECKOV_REQUEST_READ_TIMEOUT": "5",
    "CHECKPOINT_DISABLE": "1",
}
_timings: dict[str, float] = {}


def require_tool(path: str | None, name: str, install: str) -> str:
    if path and Path(path).exists():
        return path
    message = f"{name} not found; {install}"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def terraform() -> str:
    return require_tool(
        shutil.which("terraform"),
        "terraform",
        "install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install)",
    )


def terraform_env() -> dict[str, str]:
    """No ~/.terraformrc needed, no checkpoint calls to HashiCorp."""
    return {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}


@dataclass(frozen=True)
class CheckovReport:
    seconds: float
    summary: dict[str, Any]
    failed: list[dict[str, Any]]
    skipped: list[dict[str, Any]]


def run_checkov(directory: Path, timeout: float = 180) -> CheckovReport:
    started = time.monotonic()
    done = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(directory),
            "--framework",
            "terraform",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "--download-external-modules",
            "false",
            "--skip-download",
        ],
        env={**os.environ, **CHECKOV_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):  # 1 = failed checks, reported below
        raise AssertionError(f"checkov crashed ({done.returncode}): {done.stderr[-2000:]}")
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    summary: dict[str, Any] = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0}
    failed: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for report in reports:
        for key in summary:
            summary[key] += report.get("summary", {}).get(key, 0)
        failed += report.get("results", {}).get("failed_checks", [])
        skipped += report.get("results", {}).get("skipped_checks", [])
    return CheckovReport(seconds, summary, failed, skipped)


@pytest.fixture(scope="session")
def checkov_report() -> Iterator[CheckovReport]:
    require_tool(str(CHECKOV), "checkov", "run scripts/setup.sh (it installs .tools/checkov)")
    report = run_checkov(TERRAFORM_DIR)
    _timings["checkov"] = report.seconds
    yield report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if "checkov" in _timings:
        terminalreporter.write_line(f"checkov on terraform/ took {_timings['checkov']:.1f} s")
