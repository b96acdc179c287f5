"""A real browser for the tests: Debian's headless Chromium driven by Playwright.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (the
``chromium`` package, which scripts/setup.sh installs). Under CI=true a missing one fails
the test; elsewhere it skips. Screenshots go to ``artifacts/screenshots/`` (gitignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import in_ci
from tests.support import ROOT

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (Playwright's ``Browser``), closed afterwards."""
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} missing: apt-get install chromium (scripts/setup.sh does)"
        if in_ci():
            pytest.fail(f"CI=true and {why}", pytrace=False)
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],  # root, small /dev/shm
        )  # fmt: skip
        try:
            yield launched
        finally:
            launched.close()


def shot(page: Any, folder: str, name: str) -> Path:
    """A full-page screenshot, saved where the test run leaves its artifacts."""
    path = SHOTS / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, url: str, email: str, password: str) -> Any:
    """Open the account page, sign in, and answer the page's HTTP response."""
    answer = page.goto(url)
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#sign-in-button")
    return answer
