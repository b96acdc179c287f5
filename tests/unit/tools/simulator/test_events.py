"""The simulator's payloads are understood by our own mappings, at the simulated time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from refrain.domain import load_catalog
from refrain.domain.declines import DeclineCategory
from refrain.domain.inputs import (
    ChargebackOpened,
    CheckoutCompleted,
    PaymentFailed,
    PaymentMethodUpdated,
    PaymentSucceeded,
    ProviderStateReported,
    ProviderStatus,
    RefundIssued,
)
from refrain.domain.money import Money
from refrain.ingest.model import MappingError
from refrain.providers.adyen_webhook import normalise_adyen_item
from refrain.providers.stripe_events import normalise_stripe
from refrain_tools.simulator import events

CATALOG = load_catalog()
AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("market", ["SE", "DE", "GB", "US", "JP", "KW", "CL", "KR"])
def test_stripe_checkout_maps_to_a_paid_merchant_managed_checkout(market: str) -> None:
    price = CATALOG.price("individual_monthly", market)
    event = events.checkout_session_completed(
        at=AT, subscription_id="sub_1", account_id="acct_1", plan="individual_monthly",
        market=market, amount=price, email="a@example.com", locale="en_GB",
        customer="cus_1",
    )  # fmt: skip
    assert "payment_method" not in event["data"]["object"]["metadata"]  # Stripe has no such field
    mapped = normalise_stripe(event, CATALOG)
    assert mapped.occurred_at == AT and mapped.subject is not None
    assert mapped.subject.subscription_id == "sub_1"
    assert isinstance(mapped.input, CheckoutCompleted) and mapped.input.paid
    tax = mapped.input.tax
    assert mapped.input.amount == (price + tax if tax is not None else price)
    assert (tax is not None) == (market == "US")  # on top only where prices exclude it
    assert mapped.draft is not None and mapped.draft.payment_method_ref == "cus_1"
    assert mapped.customer is not None and mapped.customer.email == "a@example.com"


def test_stripe_checkout_with_a_wrong_amount_is_refused_by_our_mapping() -> None:
    event = events.checkout_session_completed(
        at=AT, subscription_id="s", account_id="a", plan="individual_monthly", market="SE",
        amount=Money(100, "SEK"), email="a@example.com", locale="sv_SE",
    )  # fmt: skip
    with pytest.raises(Exception, match="catalog price"):
        normalise_stripe(event, CATALOG)


@pytest.mark.parametrize("succeeded", [True, False])
def test_renewal_payment_intent_events_carry_our_charge(succeeded: bool) -> None:
    meta = events.renewal_metadata("sub_1", ANCHOR, 2)
    intent = events.payment_intent(
        at=AT, amount=Money(13900, "SEK"), customer="cus_1", payment_method="pm_x",
        metadata=meta, succeeded=succeeded,
        decline_code=None if succeeded else "insufficient_funds",
    )  # fmt: skip
    mapped = normalise_stripe(events.payment_intent_event(intent, AT), CATALOG)
    assert mapped.occurred_at == AT
    expected = PaymentSucceeded if succeeded else PaymentFailed
    assert isinstance(mapped.input, expected)
    assert mapped.input.charge_id == "sub_1:20260301T000000Z:2"
    assert mapped.input.charge_period == ANCHOR and mapped.input.attempt == 2
    if isinstance(mapped.input, PaymentFailed):
        assert mapped.input.decline.category is DeclineCategory.INSUFFICIENT_FUNDS


def test_refund_and_dispute_point_at_the_charge() -> None:
    meta = events.renewal_metadata("sub_1", ANCHOR, 0)
    price = Money(1099, "EUR")
    refund = normalise_stripe(
        events.charge_refunded(at=AT, payment_intent="pi_1", amount=price, metadata=meta), CATALOG
    )
    assert isinstance(refund.input, RefundIssued)
    assert refund.input.charge_id == meta["charge_id"] and refund.input.amount == price
    dispute = normalise_stripe(
        events.dispute_created(at=AT, payment_intent="pi_1", amount=price, metadata=meta), CATALOG
    )
    assert isinstance(dispute.input, ChargebackOpened) and dispute.input.charge_id == "pi_1"
    assert dispute.subject is not None and dispute.subject.subscription_id == "sub_1"


def test_billing_subscription_and_invoices() -> None:
    start, end = ANCHOR, ANCHOR + timedelta(days=31)
    common: dict[str, Any] = {"at": AT, "stripe_subscription": "sub_B1", "customer": "cus_b"}
    price = CATALOG.price("duo_monthly", "DE")
    created = normalise_stripe(
        events.billing_subscription(
            "created", **common, account_id="acct_b", plan="duo_monthly", market="DE",
            amount=price, period_start=start, period_end=end,
        ),
        CATALOG,
    )  # fmt: skip
    assert isinstance(created.input, ProviderStateReported)
    assert created.input.status is ProviderStatus.ACTIVE and created.input.until == end
    assert created.input.plan == "duo_monthly" and created.input.price == price
    assert created.subject is not None and created.subject.subscription_id == "stripe_sub_B1"
    deleted = normalise_stripe(
        events.billing_subscription(
            "deleted", **common, account_id="acct_b", plan="duo_monthly", market="DE",
            amount=price, period_start=start, period_end=end, cancellation_reason="payment_failed",
        ),
        CATALOG,
    )  # fmt: skip
    assert isinstance(deleted.input, ProviderStateReported)
    assert deleted.input.status is ProviderStatus.EXPIRED
    paid = normalise_stripe(
        events.billing_invoice(
            **common, amount=price, period_start=start, period_end=end, paid=True
        ),
        CATALOG,
    )
    assert isinstance(paid.input, ProviderStateReported) and paid.input.paid_amount == price
    retry = end + timedelta(days=3)
    failed = normalise_stripe(
        events.billing_invoice(
            **common, amount=price, period_start=start, period_end=end, paid=False,
            next_payment_attempt=retry,
        ),
        CATALOG,
    )  # fmt: skip
    assert isinstance(failed.input, ProviderStateReported)
    assert failed.input.status is ProviderStatus.IN_GRACE and failed.input.until == retry
    with pytest.raises(ValueError, match="kind"):
        events.billing_subscription(
            "paused", **common, account_id="a", plan="duo_monthly", market="DE",
            amount=price, period_start=start, period_end=end,
        )  # fmt: skip


def test_adyen_items_map_to_checkout_renewals_refund_chargeback_and_token() -> None:
    price = CATALOG.price("family_monthly", "JP")
    checkout = normalise_adyen_item(
        events.adyen_checkout(
            at=AT, subscription_id="sub_jp", account_id="acct_jp", plan="family_monthly",
            market="JP", amount=price, email="j@example.com", locale="ja_JP", token="OK_JP",
            psp_reference="PSP_FIRST",
        ),
        CATALOG,
    )  # fmt: skip
    assert checkout.occurred_at == AT and isinstance(checkout.input, CheckoutCompleted)
    assert checkout.input.amount == price and checkout.input.payment_method_ref == "acct_jp:OK_JP"
    assert checkout.subject is not None and checkout.subject.subscription_id == "sub_jp"
    reference = events.renewal_metadata("sub_jp", ANCHOR, 1)["charge_id"]
    refused = normalise_adyen_item(
        events.adyen_renewal(
            at=AT, reference=reference, amount=price, authorised=False,
            refusal_reason="Blocked Card", refusal_code="5",
        ),
        CATALOG,
    )  # fmt: skip
    assert isinstance(refused.input, PaymentFailed) and refused.input.decline.hard
    assert refused.input.charge_period == ANCHOR and refused.input.attempt == 1
    ok = normalise_adyen_item(
        events.adyen_renewal(at=AT, reference=reference, amount=price, authorised=True), CATALOG
    )
    assert isinstance(ok.input, PaymentSucceeded) and ok.input.charge_id == reference
    refund = normalise_adyen_item(
        events.adyen_refund(
            at=AT,
            original_reference="PSP_FIRST",
            merchant_reference="sub_jp:checkout",
            amount=price,
        ),
        CATALOG,
    )
    assert isinstance(refund.input, RefundIssued) and refund.input.charge_id == "PSP_FIRST"
    chargeback = normalise_adyen_item(
        events.adyen_chargeback(
            at=AT,
            original_reference="PSP_FIRST",
            merchant_reference="sub_jp:checkout",
            amount=price,
        ),
        CATALOG,
    )
    assert isinstance(chargeback.input, ChargebackOpened) and chargeback.input.amount == price
    token = normalise_adyen_item(
        events.adyen_recurring_contract(
            at=AT, merchant_reference="sub_jp:card", token="OK_NEW", shopper_reference="acct_jp",
            currency="JPY",
        ),
        CATALOG,
    )  # fmt: skip
    assert isinstance(token.input, PaymentMethodUpdated)
    assert token.input.payment_method_ref == "acct_jp:OK_NEW"  # the shopper it was stored under


def test_naive_times_are_refused_and_ids_never_collide() -> None:
    with pytest.raises(ValueError, match="timezone"):
        events.stripe_event("x", {}, datetime(2026, 1, 1))
    assert len({events.new_id("pi") for _ in range(1000)}) == 1000
    assert len({events.new_psp() for _ in range(1000)}) == 1000


def _us_checkout(**extra: Any) -> dict[str, Any]:
    return events.checkout_session_completed(
        at=AT, subscription_id="sub_us", account_id="acct_us", plan="individual_monthly",
        market="US", amount=CATALOG.price("individual_monthly", "US"), email="a@example.com",
        locale="en_US", **extra,
    )  # fmt: skip


def test_address_tax_is_stripe_s_on_top_exactly() -> None:
    nyc = normalise_stripe(_us_checkout(), CATALOG).input
    assert isinstance(nyc, CheckoutCompleted)
    assert nyc.tax == Money(106, "USD") and nyc.amount == Money(1305, "USD")  # 8.875 % of 11.99
    quebec = events.checkout_session_completed(
        at=AT, subscription_id="sub_qc", account_id="acct_qc", plan="individual_monthly",
        market="CA", amount=CATALOG.price("individual_monthly", "CA"), email="a@example.com",
        locale="fr_CA", state="QC",
    )  # fmt: skip
    qc = normalise_stripe(quebec, CATALOG).input
    assert isinstance(qc, CheckoutCompleted) and qc.tax == Money(180, "CAD")  # 14.975 %


def test_address_tax_not_computed_by_stripe_is_refused_not_guessed() -> None:
    event = _us_checkout()
    event["data"]["object"]["automatic_tax"] = {"enabled": False, "status": None}
    with pytest.raises(MappingError, match="refused, not guessed"):
        normalise_stripe(event, CATALOG)
    trial = _us_checkout(setup_intent="seti_1")
    with pytest.raises(MappingError, match="trial in US"):
        normalise_stripe(trial, CATALOG)
