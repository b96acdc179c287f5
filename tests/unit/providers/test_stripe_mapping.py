"""Every Stripe fixture maps to the right provider-neutral input."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.domain import load_catalog
from refrain.domain.inputs import (
    ChargebackOpened,
    CheckoutCompleted,
    DisputeClosed,
    PaymentFailed,
    PaymentSucceeded,
    ProviderStateReported,
    ProviderStatus,
    RefundIssued,
)
from refrain.domain.money import Money
from refrain.domain.subscription import BillingMode, ChurnType
from refrain.ingest.model import MappingError
from refrain.providers.price_plans import PricePlans
from refrain.providers.stripe_events import normalise_stripe
from tests.support import FIXTURES

CATALOG = load_catalog()
EVENTS = FIXTURES / "stripe" / "events"
# The captured subscriptions' Price: a business's own, with no lookup key and no metadata.
CAPTURED_PRICE = "price_1PgafmB7WZ01zgkW6dKueIc5"
PRICES = PricePlans.from_config({CAPTURED_PRICE: "individual_monthly@US"})


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def test_subscription_mode_checkout_records_customer_and_waits_for_billing() -> None:
    event = normalise_stripe(fixture("checkout.session.completed"), CATALOG)
    assert event.input is None and event.ignored
    assert event.subject is not None
    assert event.subject.subscription_id == "stripe_sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
    assert event.customer is not None and event.customer.email == "example@example.com"
    assert "stripe:cus_QXg1o8vcGmoR32" in event.refs


def test_payment_mode_checkout_with_metadata_creates_a_merchant_managed_subscription() -> None:
    raw = fixture("checkout.session.completed")
    obj = raw["data"]["object"]
    obj.update(
        mode="payment",
        payment_intent="pi_first",
        amount_total=13900,
        currency="sek",
        metadata={"account_id": "acct_1", "plan": "individual_monthly", "market": "SE"},
    )
    event = normalise_stripe(raw, CATALOG)
    assert isinstance(event.input, CheckoutCompleted)
    assert event.input.paid and event.input.amount == Money(13900, "SEK")
    assert event.draft is not None
    assert event.draft.billing_mode is BillingMode.MERCHANT_MANAGED
    assert (event.draft.plan, event.draft.market, event.draft.account_id) == (
        "individual_monthly",
        "SE",
        "acct_1",
    )
    assert "stripe:pi_first" in event.refs


def test_checkout_for_an_unknown_plan_or_market_is_a_clear_error() -> None:
    raw = fixture("checkout.session.completed")
    raw["data"]["object"].update(
        mode="payment", metadata={"account_id": "a", "plan": "platinum", "market": "SE"}
    )
    with pytest.raises(LookupError, match="platinum"):
        normalise_stripe(raw, CATALOG)
    raw["data"]["object"]["metadata"] = {"account_id": "a", "plan": "duo_monthly", "market": "ZZ"}
    with pytest.raises(LookupError, match="ZZ"):
        normalise_stripe(raw, CATALOG)


def test_checkout_charging_a_different_amount_than_the_catalog_is_refused() -> None:
    raw = fixture("checkout.session.completed")
    raw["data"]["object"].update(
        mode="payment",
        amount_total=100,
        currency="sek",
        metadata={"account_id": "a", "plan": "individual_monthly", "market": "SE"},
    )
    with pytest.raises(MappingError, match="catalog price"):
        normalise_stripe(raw, CATALOG)


@pytest.mark.parametrize(
    ("name", "status", "cancel_at_end", "churn"),
    [
        ("customer.subscription.created", ProviderStatus.ACTIVE, False, None),
        ("customer.subscription.updated", ProviderStatus.ACTIVE, True, None),
        ("customer.subscription.deleted", ProviderStatus.EXPIRED, False, ChurnType.VOLUNTARY),
    ],
)
def test_billing_subscription_lifecycle_is_mirrored(
    name: str, status: ProviderStatus, cancel_at_end: bool, churn: ChurnType | None
) -> None:
    event = normalise_stripe(fixture(name), CATALOG, PRICES)
    assert isinstance(event.input, ProviderStateReported)
    assert event.input.status is status
    assert event.input.plan == "individual_monthly"
    assert event.input.cancel_at_period_end is cancel_at_end
    assert event.input.churn_type is churn
    assert event.input.occurred_at.timestamp() == fixture(name)["created"]


def test_subscription_with_plan_metadata_resolves_rank_and_price() -> None:
    raw = fixture("customer.subscription.created")
    raw["data"]["object"]["metadata"] = {"plan": "family_yearly", "market": "US", "account_id": "a"}
    event = normalise_stripe(raw, CATALOG)
    assert isinstance(event.input, ProviderStateReported)
    assert event.input.plan == "family_yearly"
    assert event.input.price == CATALOG.price("family_yearly", "US")
    assert event.draft is not None and event.draft.billing_mode is BillingMode.PROVIDER_MANAGED


def test_a_price_nobody_mapped_is_unmatched_and_says_what_to_map() -> None:
    for name in ("customer.subscription.created", "customer.subscription.updated"):
        with pytest.raises(MappingError, match=f"{CAPTURED_PRICE}.*STRIPE_PRICE_PLANS"):
            normalise_stripe(fixture(name), CATALOG)


def test_the_price_map_names_plan_and_market_of_a_business_s_own_price() -> None:
    event = normalise_stripe(fixture("customer.subscription.created"), CATALOG, PRICES)
    assert event.draft is not None
    assert (event.draft.plan, event.draft.market) == ("individual_monthly", "US")
    assert (
        event.draft.account_id
        == fixture("customer.subscription.created")["data"]["object"]["customer"]
    )
    assert isinstance(event.input, ProviderStateReported)
    assert event.input.price == CATALOG.price("individual_monthly", "US")


def test_a_lookup_key_is_mapped_when_the_price_id_is_not() -> None:
    raw = fixture("customer.subscription.created")
    raw["data"]["object"]["items"]["data"][0]["price"]["lookup_key"] = "premium-family-usd"
    prices = PricePlans.from_config({"premium-family-usd": "family_monthly@US"})
    event = normalise_stripe(raw, CATALOG, prices)
    assert event.draft is not None and event.draft.plan == "family_monthly"


def test_refrain_s_own_metadata_wins_over_the_price_map() -> None:
    raw = fixture("customer.subscription.created")
    raw["data"]["object"]["metadata"] = {"plan": "duo_monthly", "market": "US", "account_id": "a"}
    event = normalise_stripe(raw, CATALOG, PRICES)
    assert event.draft is not None
    assert (event.draft.plan, event.draft.account_id) == ("duo_monthly", "a")


def test_a_price_mapped_to_a_market_of_another_currency_is_unmatched() -> None:
    prices = PricePlans.from_config({CAPTURED_PRICE: "individual_monthly@SE"})  # a USD price
    with pytest.raises(MappingError, match=r"USD.*SEK"):
        normalise_stripe(fixture("customer.subscription.created"), CATALOG, prices)


def test_a_price_mapped_without_a_market_needs_the_market_in_metadata() -> None:
    prices = PricePlans.from_config({CAPTURED_PRICE: "individual_monthly"})
    with pytest.raises(MappingError, match="names no plan and market"):
        normalise_stripe(fixture("customer.subscription.created"), CATALOG, prices)
    raw = fixture("customer.subscription.created")
    raw["data"]["object"]["metadata"] = {"market": "US"}
    event = normalise_stripe(raw, CATALOG, prices)
    assert event.draft is not None and event.draft.market == "US"


def test_involuntary_cancellation_is_tagged() -> None:
    raw = fixture("customer.subscription.deleted")
    raw["data"]["object"]["cancellation_details"] = {"reason": "payment_failed"}
    event = normalise_stripe(raw, CATALOG, PRICES)
    assert isinstance(event.input, ProviderStateReported)
    assert event.input.churn_type is ChurnType.INVOLUNTARY


def test_invoices() -> None:
    paid = normalise_stripe(fixture("invoice.paid"), CATALOG)
    assert isinstance(paid.input, ProviderStateReported)
    assert paid.input.status is ProviderStatus.ACTIVE
    assert paid.input.paid_amount == Money(1000, "USD")
    failed = normalise_stripe(fixture("invoice.payment_failed"), CATALOG)
    assert isinstance(failed.input, ProviderStateReported)
    assert failed.input.status is ProviderStatus.IN_GRACE
    assert failed.input.until is not None and int(failed.input.until.timestamp()) == 1722209200
    finalized = normalise_stripe(fixture("invoice.finalized"), CATALOG)
    assert finalized.input is None and finalized.ignored


def test_payment_intents_map_to_charge_outcomes() -> None:
    ok = normalise_stripe(fixture("payment_intent.succeeded"), CATALOG)
    assert isinstance(ok.input, PaymentSucceeded)
    assert ok.input.amount == Money(1099, "USD")
    assert ok.subject is not None and ok.subject.ref == "stripe:pi_1PgafyB7WZ01zgkWSjxsAJo3"
    assert "stripe:ch_1PgafuB7WZ01zgkWXYmPNZs8" in ok.refs
    failed = normalise_stripe(fixture("payment_intent.payment_failed"), CATALOG)
    assert isinstance(failed.input, PaymentFailed)
    assert failed.input.decline.code == "generic_decline"


def test_our_renewal_metadata_identifies_subscription_period_and_attempt() -> None:
    raw = fixture("payment_intent.succeeded")
    raw["data"]["object"]["metadata"] = {
        "subscription_id": "sub_ours",
        "charge_id": "sub_ours:20260101T000000Z:2",
        "billing_anchor": "2026-01-01T00:00:00+00:00",
        "attempt": "2",
    }
    event = normalise_stripe(raw, CATALOG)
    assert event.subject is not None and event.subject.subscription_id == "sub_ours"
    assert isinstance(event.input, PaymentSucceeded)
    assert event.input.attempt == 2 and event.input.charge_id == "sub_ours:20260101T000000Z:2"
    assert event.input.charge_period is not None and event.input.charge_period.year == 2026


def test_refund_and_dispute() -> None:
    refund = normalise_stripe(fixture("charge.refunded"), CATALOG)
    assert isinstance(refund.input, RefundIssued)
    assert refund.input.amount == Money(100, "USD")
    dispute = normalise_stripe(fixture("charge.dispute.created"), CATALOG)
    assert isinstance(dispute.input, ChargebackOpened)
    assert dispute.input.reason_code == "general"
    due = dispute.input.evidence_due_at  # Stripe's evidence_details.due_by
    assert due is not None and int(due.timestamp()) == 1723679999 and due.utcoffset() is not None
    assert dispute.input.dispute_id == fixture("charge.dispute.created")["data"]["object"]["id"]
    closed = fixture("charge.dispute.created")
    closed["type"] = "charge.dispute.closed"
    closed["data"]["object"]["status"] = "warning_closed"  # an inquiry: no money moved
    assert normalise_stripe(closed, CATALOG).ignored
    for status, won in (("won", True), ("lost", False)):
        closed["data"]["object"]["status"] = status
        decided = normalise_stripe(closed, CATALOG).input
        assert isinstance(decided, DisputeClosed) and decided.won is won
        assert decided.dispute_id == dispute.input.dispute_id


def _refund(cumulative: int, before: int | None, event_id: str) -> dict[str, Any]:
    """The fixture charge after a refund: cumulative amount_refunded, Stripe's previous value."""
    raw = fixture("charge.refunded")
    raw["id"] = event_id
    raw["data"]["object"].update(amount=1000, amount_refunded=cumulative)
    if before is None:
        raw["data"].pop("previous_attributes", None)
    else:
        raw["data"]["previous_attributes"] = {"amount_refunded": before}
    return raw


def test_each_partial_refund_is_credited_once_not_the_running_total() -> None:
    first = normalise_stripe(_refund(300, 0, "evt_r1"), CATALOG)
    second = normalise_stripe(_refund(500, 300, "evt_r2"), CATALOG)
    assert isinstance(first.input, RefundIssued) and isinstance(second.input, RefundIssued)
    assert first.input.amount == Money(300, "USD")
    assert second.input.amount == Money(200, "USD")  # not 500: the first 300 was credited


@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=5))
def test_refunds_in_any_order_credit_exactly_what_was_refunded(parts: list[int]) -> None:
    events, total = [], 0
    for i, part in enumerate(parts):
        events.append(_refund(total + part, total, f"evt_r{i}"))
        total += part
    credited = 0
    for raw in reversed(events):  # delivery order does not matter
        refund = normalise_stripe(raw, CATALOG).input
        assert isinstance(refund, RefundIssued)
        credited += refund.amount.amount
    assert credited == total


def test_a_refunded_event_that_adds_nothing_credits_nothing() -> None:
    event = normalise_stripe(_refund(300, 300, "evt_r3"), CATALOG)
    assert event.input is None and event.ignored


def test_a_first_refund_without_previous_attributes_is_the_whole_amount() -> None:
    refund = normalise_stripe(_refund(300, None, "evt_r4"), CATALOG).input
    assert isinstance(refund, RefundIssued) and refund.amount == Money(300, "USD")


def test_malformed_previous_attributes_are_a_mapping_error() -> None:
    raw = _refund(300, 0, "evt_r5")
    raw["data"]["previous_attributes"] = ["not", "an", "object"]
    with pytest.raises(MappingError):
        normalise_stripe(raw, CATALOG)


def test_unknown_event_types_are_recorded_as_ignored() -> None:
    raw = fixture("invoice.paid")
    raw["type"] = "customer.tax_id.created"
    event = normalise_stripe(raw, CATALOG)
    assert event.input is None and event.ignored and "customer.tax_id.created" in event.ignored


@given(
    st.dictionaries(
        st.sampled_from(["id", "type", "created", "data"]),
        st.one_of(st.none(), st.integers(), st.text(), st.dictionaries(st.text(), st.text())),
    )
)
def test_arbitrary_envelopes_map_or_raise_mapping_error(raw: dict[str, Any]) -> None:
    with contextlib.suppress(MappingError):
        normalise_stripe(copy.deepcopy(raw), CATALOG)


def _own_checkout() -> dict[str, Any]:
    """A business's own payment-mode session: client_reference_id, no Refrain metadata."""
    raw = fixture("checkout.session.completed")
    price = CATALOG.price("individual_monthly", "SE")
    raw["data"]["object"].update(
        mode="payment",
        status="complete",
        payment_status="paid",
        amount_total=price.amount,
        currency="sek",
        client_reference_id="user-1",
        metadata={},
        customer_details={"email": "a@example.com", "address": {"country": "se"}},
    )
    return raw


def test_a_checkout_without_metadata_is_mapped_by_the_prices_it_sold() -> None:
    asked: list[str] = []

    def sold(session_id: str) -> list[dict[str, Any]]:
        asked.append(session_id)
        return [{"id": "price_x", "lookup_key": None}, {"id": "price_se", "lookup_key": "se-m"}]

    prices = PricePlans.from_config({"se-m": "individual_monthly"})
    event = normalise_stripe(_own_checkout(), CATALOG, prices, sold)
    assert asked == [_own_checkout()["data"]["object"]["id"]]
    assert isinstance(event.input, CheckoutCompleted)
    assert event.draft is not None
    assert (event.draft.account_id, event.draft.plan, event.draft.market) == (
        "user-1",
        "individual_monthly",
        "SE",
    )


def test_a_checkout_without_metadata_or_a_way_to_read_its_prices_is_unmatched() -> None:
    with pytest.raises(MappingError, match="STRIPE_API_KEY"):
        normalise_stripe(_own_checkout(), CATALOG, PRICES)
    with pytest.raises(MappingError, match="price_x"):
        normalise_stripe(_own_checkout(), CATALOG, PRICES, lambda _: [{"id": "price_x"}])


def test_a_stripe_billing_proration_invoice_is_mirrored_as_paid_without_moving_the_period() -> None:
    """An upgrade made in Stripe Billing: Stripe invoices the proration itself
    (billing_reason subscription_update, lines for the rest of the current period);
    Refrain mirrors what was paid, for the receipt, and keeps the period."""
    from datetime import UTC, datetime

    from refrain.domain import EventType, Subscription, apply

    event = copy.deepcopy(fixture("invoice.paid"))
    obj = event["data"]["object"]
    start, mid, end = 1_767_225_600, 1_768_435_200, 1_769_904_000  # Jan 1, Jan 15, Feb 1 2026
    line = obj["lines"]["data"][0]
    obj.update(billing_reason="subscription_update", amount_paid=468, currency="usd",
               id="in_proration_1", period_start=mid, period_end=mid)  # fmt: skip
    credit = copy.deepcopy(line) | {"amount": -500, "period": {"start": mid, "end": end}}
    charge = copy.deepcopy(line) | {"amount": 968, "period": {"start": mid, "end": end}}
    obj["lines"]["data"] = [credit, charge]
    mapped = normalise_stripe(event, CATALOG)
    assert isinstance(mapped.input, ProviderStateReported)
    assert mapped.input.paid_amount == Money(468, "USD")
    assert mapped.input.until is not None and int(mapped.input.until.timestamp()) == end
    sub = Subscription.new(
        subscription_id="sub_mirrored",
        account_id="acct", provider="stripe", billing_mode=BillingMode.PROVIDER_MANAGED,
        plan="individual_monthly", plan_rank=20, interval_months=1, market="US",
        price=Money(1099, "USD"), created_at=datetime.fromtimestamp(start, UTC),
    )  # fmt: skip
    active = ProviderStateReported(
        input_id="evt_created", occurred_at=datetime.fromtimestamp(start, UTC),
        status=ProviderStatus.ACTIVE, until=datetime.fromtimestamp(end, UTC),
        period_start=datetime.fromtimestamp(start, UTC),
    )  # fmt: skip
    mirrored = apply(sub, active, active.occurred_at).subscription
    out = apply(mirrored, mapped.input, mapped.input.occurred_at)
    paid = [e for e in out.events if e.type is EventType.INVOICE_PAID]
    assert [e.payload["amount"] for e in paid] == [468]
    assert out.subscription.current_period_end == mirrored.current_period_end
    assert out.subscription.current_period_start == mirrored.current_period_start
