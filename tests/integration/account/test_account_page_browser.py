"""The account page in a real browser: Debian's headless Chromium driven by Playwright.

The real account_api function serves the page on the local stack; the subscriber signs
in with e-mail and password at the Firebase Auth emulator, sees the plan, the next charge
and the invoices, previews a plan change, cancels, sees "Ends on …", undoes it, fetches a
PDF, and reads the page in Swedish. Amounts and dates are expected exactly as the
receipts format them (refrain.invoicing.i18n). Screenshots of each step are saved under
``artifacts/screenshots/account-page/`` (gitignored).

The browser is Debian's Chromium (tests.browser): never a downloaded one, and under
CI=true a missing one fails. The demo's own run is driven the same way in
tests/e2e/test_business_end_to_end.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from refrain.adapters.firestore_collections import SUBSCRIPTIONS, keyed
from refrain.domain import load_catalog
from refrain.invoicing.i18n import localizer_for
from tests.browser import chromium, shot
from tests.integration.account.conftest import PASSWORD, Api, Emulator
from tests.integration.account.test_account_documents import _invoices

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _shot(page: Any, name: str) -> Path:
    return shot(page, "account-page", name)


def _period_end(api: Api, sub_id: str) -> datetime:
    stored = keyed(api.db, SUBSCRIPTIONS, sub_id).get().to_dict() or {}
    value = stored["current_period_end"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def test_sign_in_see_the_plan_cancel_see_ends_on_and_undo(
    api: Api, emulator: Emulator, browser: Any
) -> None:
    from playwright.sync_api import expect

    user = emulator.sign_up()
    sub_id = api.seed(user.uid)
    invoices = _invoices(api, user.uid, sub_id, 2)
    price = load_catalog().offer("individual_monthly", "SE").price
    en, sv = localizer_for("en_GB", "en"), localizer_for("sv", "en")  # the browser's, ?lang=
    ends = _period_end(api, sub_id)

    context = browser.new_context(locale="en-GB", viewport={"width": 900, "height": 1000},
                                  accept_downloads=True)  # fmt: skip
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        answer = page.goto(f"{api.url}/v1/account-page/")
        assert answer is not None and answer.status == 200
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "<script>" not in page.content()  # the one script is page.js
        expect(page.locator("#sign-in")).to_be_visible()
        _shot(page, "1-sign-in")

        page.fill("#email", user.email)
        page.fill("#password", PASSWORD)
        page.click("#sign-in-button")
        card = page.locator(f'article[data-subscription="{sub_id}"]')
        expect(card.locator(".plan")).to_have_text("Refrain Individual (monthly)")
        expect(card.locator(".status")).to_have_text("Active")
        expect(card.locator(".next-charge")).to_contain_text(en.money(price))
        rows = page.locator("#invoices tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first.locator(".number")).to_have_text(invoices[-1].number)
        expect(rows.first.locator(".amount")).to_have_text(en.money(invoices[-1].gross_total))
        _shot(page, "2-signed-in")

        card.locator(".plan-choice").select_option("family_monthly")
        card.locator(".preview").click()
        expect(card.locator(".preview-text")).to_contain_text("You pay ")
        expect(card.locator(".confirm-change")).to_be_visible()
        _shot(page, "3-plan-change-preview")

        card.locator(".cancel").click()
        expect(card.locator(".ends")).to_have_text(f"Ends on {en.date(ends)}")
        expect(card.locator(".undo-cancel")).to_be_visible()
        expect(card.locator(".cancel")).to_be_hidden()
        _shot(page, "4-cancelled-ends-on")
        assert keyed(api.db, SUBSCRIPTIONS, sub_id).get().get("cancel_at_period_end") is True

        card.locator(".undo-cancel").click()
        expect(card.locator(".ends")).to_be_hidden()
        expect(card.locator(".cancel")).to_be_visible()
        expect(card.locator(".next-charge")).to_contain_text(en.money(price))
        _shot(page, "5-undone")
        assert keyed(api.db, SUBSCRIPTIONS, sub_id).get().get("cancel_at_period_end") is False

        with page.expect_download() as downloading:
            rows.first.locator(".pdf").click()
        pdf = Path(downloading.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF") and downloading.value.suggested_filename.endswith(".pdf")

        page.goto(f"{api.url}/v1/account-page/?lang=sv")  # still signed in (this tab)
        expect(page.locator("html")).to_have_attribute("lang", "sv")
        tier, interval = sv.t("tier_individual"), sv.t("interval_month")
        receipt_line = sv.t("plan_line", tier=tier, interval=interval)
        expect(card.locator(".plan")).to_have_text(receipt_line)  # as the receipt names it
        expect(card.locator(".next-charge")).to_contain_text(sv.money(price))
        expect(page.locator("#sign-out")).to_have_text("Logga ut")
        _shot(page, "6-swedish")
        assert not problems, problems  # no CSP violation, no script error
    finally:
        context.close()


def test_a_wrong_password_is_refused_in_the_readers_language(
    api: Api, emulator: Emulator, browser: Any
) -> None:
    from playwright.sync_api import expect

    user = emulator.sign_up()
    context = browser.new_context(locale="de-DE")
    page = context.new_page()
    try:
        page.goto(f"{api.url}/v1/account-page/")
        expect(page.locator("#sign-in-button")).to_have_text("Anmelden")
        page.fill("#email", user.email)
        page.fill("#password", "not-the-password")
        page.click("#sign-in-button")
        expect(page.locator("#message")).to_have_text("E-Mail oder Passwort ist falsch.")
        expect(page.locator("#account")).to_be_hidden()
        _shot(page, "7-wrong-password-de")
    finally:
        context.close()
