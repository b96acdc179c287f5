"""The demo's provider-managed subscribers: what each story sends, and that Refrain's
own mappings read every notice as the state the story means (Apple's verified with
the real library against the demo's test root)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from refrain.domain.catalog import load_catalog
from refrain.domain.inputs import ProviderStateReported, ProviderStatus
from refrain.ingest.model import ProviderEvent
from refrain.providers.apple_notifications import AppleConfig, normalise_apple
from refrain.providers.apple_verify import AppleVerifier
from refrain.providers.google_play_mapping import PlayConfig, normalise_play
from refrain.providers.google_play_rtdn import decode_push
from refrain.providers.stripe_events import normalise_stripe
from refrain_tools.demo.app_stores import (
    APPLE_ENVIRONMENT,
    apple_product,
    apple_story,
    play_product,
    play_story,
)
from refrain_tools.demo.app_stores import store_notices as build_notices
from refrain_tools.demo.business import MARKETS, PLANS
from refrain_tools.demo.stores import (
    StoreCustomer,
    StoreNotice,
    plan_store_customers,
    stripe_billing_story,
)
from refrain_tools.simulator.apple import APP_APPLE_ID, BUNDLE_ID, apple_pki

pytestmark = pytest.mark.unit

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
UNTIL = datetime(2026, 4, 5, 11, 0, tzinfo=UTC)
PLAN_IDS = tuple(p for p, _ in PLANS)
CATALOG = load_catalog()


class Purchases:
    """The Android Publisher API answering what the notice says it answers then."""

    def __init__(self, notice: StoreNotice) -> None:
        assert notice.purchase is not None
        self.purchase = notice.purchase[2]

    def get_subscription(self, package_name: str, purchase_token: str) -> dict[str, Any]:
        return self.purchase


def mapped(notice: StoreNotice) -> ProviderEvent:
    if notice.provider == "stripe":
        return normalise_stripe(notice.body, CATALOG)
    if notice.provider == "google_play":
        play = PlayConfig(product_plans={play_product(p): p for p in PLAN_IDS})
        return normalise_play(decode_push(notice.body), Purchases(notice), CATALOG, play)
    verifier = AppleVerifier(
        root_certificates=[apple_pki().root_der],
        bundle_id=BUNDLE_ID,
        environment=APPLE_ENVIRONMENT,
        app_apple_id=APP_APPLE_ID,
        online_checks=False,
    )
    apple = AppleConfig(product_plans={apple_product(p): p for p in PLAN_IDS})
    return normalise_apple(verifier.verify(notice.body), CATALOG, apple)


def stories() -> dict[StoreCustomer, list[StoreNotice]]:
    customers = plan_store_customers(4, START, CATALOG, MARKETS, PLAN_IDS)
    notices = build_notices(customers, CATALOG, UNTIL)
    assert [n.at for n in notices] == sorted(n.at for n in notices)
    by_customer: dict[StoreCustomer, list[StoreNotice]] = {}
    for customer in customers:
        if customer.provider == "stripe_billing":
            told = stripe_billing_story(customer, CATALOG, UNTIL)
        elif customer.provider == "google_play":
            told = play_story(customer, UNTIL)
        else:
            told = apple_story(customer, CATALOG, UNTIL)
        by_customer[customer] = [n for n in told if n.at <= UNTIL]
    assert sum(len(n) for n in by_customer.values()) == len(notices)
    return by_customer


EXPECTED_END = {
    ("stripe_billing", "fails"): ProviderStatus.IN_GRACE,
    ("google_play", "fails"): ProviderStatus.ON_HOLD,
    ("apple", "fails"): ProviderStatus.ON_HOLD,
}


def test_every_story_maps_to_the_state_it_means_for_every_provider() -> None:
    found = stories()
    assert {(c.provider, c.story) for c in found} == {
        (p, s)
        for p in ("stripe_billing", "google_play", "apple")
        for s in ("renews", "cancels", "recovers", "fails")
    }
    for customer, notices in found.items():
        events = [mapped(n) for n in notices]
        reports = [e.input for e in events if isinstance(e.input, ProviderStateReported)]
        assert all(
            e.ignored is None for e in events if e.event_type != "checkout.session.completed"
        )
        statuses = [r.status for r in reports]
        assert statuses[0] is ProviderStatus.ACTIVE, customer
        assert events[0].draft is not None and events[0].draft.plan == customer.plan
        last = max(reports, key=lambda r: r.occurred_at)
        if customer.story == "cancels":
            assert any(r.cancel_at_period_end for r in reports), customer
            assert last.status is ProviderStatus.EXPIRED, customer
        elif customer.story == "recovers":
            assert ProviderStatus.IN_GRACE in statuses, customer
            assert last.status is ProviderStatus.ACTIVE, customer
        elif customer.story == "fails":
            assert last.status is EXPECTED_END[(customer.provider, customer.story)], customer
        else:
            assert set(statuses) == {ProviderStatus.ACTIVE}, customer
            assert len(reports) >= 3, customer  # sign-up and a renewal per month


def test_play_notices_carry_what_the_api_answers_and_only_documented_fields() -> None:
    customers = plan_store_customers(4, START, CATALOG, MARKETS, PLAN_IDS)
    for notice in build_notices(customers, CATALOG, UNTIL):
        if notice.provider != "google_play":
            assert notice.purchase is None
            continue
        assert notice.purchase is not None
        assert set(notice.body) == {"message", "subscription"}
        assert set(notice.body["message"]) == {"attributes", "data", "messageId", "publishTime"}
        assert set(decode_push(notice.body).notification) == {
            "version", "packageName", "eventTimeMillis", "subscriptionNotification",
        }  # fmt: skip
