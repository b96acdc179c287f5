"""The whole topology on the local stack: functions served by functions-framework,
Pub/Sub pushing to them, the provider simulator delivering webhooks and answering
renewal charges, months passing on the shared clock, and every invariant checked
from what the stores hold afterwards.

The scenario runs once per module; one test checks the business invariants, the
other reads every log line the functions wrote during it (no e-mail address, no
secret, one JSON object with a severity per line).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from refrain.settings import CloudSettings
from refrain_tools.demo.account_page import open_account_page
from refrain_tools.demo.report import Summary, mode_label
from refrain_tools.demo.run import DemoOptions, DemoRun
from refrain_tools.stack.manager import StackManager
from tests.browser import chromium, shot, sign_in

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Environment values that must never reach a log line (secrets, keys, the pepper).
SECRET_ENV = ("STRIPE_WEBHOOK_SECRET", "ADYEN_HMAC_KEY", "REFRAIN_SUBSCRIBER_PEPPER")


@dataclass(frozen=True)
class Finished:
    options: DemoOptions
    summary: Summary
    stats: dict[str, object]
    logs: Path
    env: dict[str, str]
    run: DemoRun


@pytest.fixture(scope="module")
def business(stack: StackManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Finished]:
    """One small business run (the `cloud` fixture is per test, so its work is done here)."""
    stack.reset()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in stack.config.client_environment().items():
            patch.setenv(key, value)
        options = DemoOptions(
            customers=20,
            store_customers=4,  # one of each story for every provider-managed provider
            months=2,
            seed=11,
            out_dir=tmp_path_factory.mktemp("demo"),
        )
        run = DemoRun(stack, CloudSettings(), options)
        steps: list[str] = []
        run.start()
        try:
            run.signups(lambda name, done, total: steps.append(name))
            run.first_weeks(lambda name, done, total: steps.append(name))
            run.months_pass(lambda name, done, total: steps.append(name))
            summary, stats = run.summarise()
            # the functions stay up for the account page's browser test, then stop
            yield Finished(options, summary, stats, run.work / "logs", dict(run.servers.env), run)
        finally:
            run.stop()


@pytest.mark.timeout(600)
def test_a_small_business_runs_end_to_end_and_keeps_every_invariant(business: Finished) -> None:
    summary, stats, options = business.summary, business.stats, business.options
    broken = [c for c in summary.checks if not c.ok]
    assert not broken, broken
    assert len(summary.checks) >= 8
    # Everyone signed up: cards through Stripe and Adyen, and the provider-managed ones.
    signed_up = options.customers + 3 * options.store_customers
    assert sum(summary.states.values()) == signed_up
    assert set(summary.modes) == {
        mode_label("merchant_managed", "stripe"),
        mode_label("merchant_managed", "adyen"),
        mode_label("provider_managed", "stripe"),
        mode_label("provider_managed", "google_play"),
        mode_label("provider_managed", "apple"),
    }
    # Each provider-managed provider ended with its subscribers renewed, cancelled and failed.
    for provider in ("stripe", "google_play", "apple"):
        states = summary.modes[mode_label("provider_managed", provider)]
        assert sum(states.values()) == options.store_customers, provider
        assert states["active"] == 2 and states["expired"] == 1, (provider, states)
        assert states["past_due"] + states["on_hold"] == 1, (provider, states)
    # Renewals happened, and the bad cards went all the way through dunning.
    signals = dict(summary.signals)
    assert signals.get("activated") == signed_up
    assert signals.get("renewed", 0) > 0
    assert signals.get("payment_failed", 0) > 0
    assert summary.states.get("expired", 0) > 0
    for kind in ("cancel_requested", "cancel_reverted", "plan_changed", "refunded", "chargeback"):
        assert signals.get(kind, 0) >= 1, kind
    # Receipts were mailed, with a rendered sample kept for people to look at.
    assert summary.receipts_sent > options.customers
    assert summary.sample_pdf is not None and summary.sample_pdf.read_bytes().startswith(b"%PDF")
    assert summary.sample_html is not None and "<html" in summary.sample_html.read_text().lower()
    # Money came in, in several currencies, as integer minor units.
    assert len(summary.revenue) >= 5
    assert all(isinstance(m.amount, int) for m in summary.revenue.values())
    # The simulator really did duplicate and reorder deliveries.
    deliveries = stats["webhook deliveries"]
    assert isinstance(deliveries, dict)
    assert deliveries["duplicated"] > 0 and deliveries["reordered"] > 0


def test_the_demo_subscriber_uses_the_account_page_in_a_real_browser(
    business: Finished, stack: StackManager
) -> None:
    """As `make demo`'s summary offers: the demo subscriber signs in on the page the
    demo's own account_api serves, sees the plan, cancels, sees "Ends on …", undoes it."""
    from playwright.sync_api import expect

    run = business.run
    subscriber = open_account_page(
        run.db, stack.config.client_environment()["FIREBASE_AUTH_EMULATOR_HOST"],
        run.settings.project, run.servers.urls["account_api"],
    )  # fmt: skip
    with chromium() as browser:
        page = browser.new_page(locale="en-US", viewport={"width": 900, "height": 1000})
        sign_in(page, subscriber.url, subscriber.email, subscriber.password)
        card = page.locator("article.subscription").filter(has_text=subscriber.plan).first
        expect(card.locator(".plan")).to_have_text(subscriber.plan)
        expect(card.locator(".status")).to_have_text("Active")
        shot(page, "demo", "1-signed-in")
        card.locator(".cancel").click()
        expect(card.locator(".ends")).to_contain_text("Ends on ")
        shot(page, "demo", "2-cancelled")
        card.locator(".undo-cancel").click()
        expect(card.locator(".ends")).to_be_hidden()
        expect(card.locator(".cancel")).to_be_visible()
        shot(page, "demo", "3-undone")


@pytest.mark.timeout(600)
def test_the_run_logs_hold_no_email_no_secret_and_only_structured_lines(
    business: Finished,
) -> None:
    """Every line of every function log (and customer care's) is a JSON object with a
    severity: functions-framework writes nothing else on a healthy run, so no exception
    is allowed. Nothing in them is an e-mail address or a configured secret value."""
    secrets = {name: business.env[name] for name in SECRET_ENV if business.env.get(name)}
    assert len(secrets) == len(SECRET_ENV), "the run configures every secret it is checked for"
    files = sorted(business.logs.glob("*.log")) + sorted(business.logs.glob("*.jsonl"))
    assert {"checkout_webhook.log", "receipt_email.log", "renewal_charge.log"} <= {
        f.name for f in files
    }
    lines = 0
    problems: list[str] = []
    for path in files:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            lines += 1
            where = f"{path.name}:{number}"
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"{where} not JSON: {line[:120]}")
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("severity"), str):
                problems.append(f"{where} has no severity: {line[:120]}")
            if found := EMAIL.search(line):
                problems.append(f"{where} e-mail address {found.group()}")
            problems += [
                f"{where} holds {name}" for name, value in secrets.items() if value in line
            ]
    assert lines > business.options.customers, "the functions logged the run"
    assert not problems, problems[:20]
