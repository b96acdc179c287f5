"""The simulated Stripe checkouts send Stripe's shapes only, and map to the card they saved."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from refrain.domain import load_catalog
from refrain.domain.inputs import CheckoutCompleted, PaymentMethodUpdated
from refrain.providers.stripe_events import normalise_stripe_events
from refrain_tools.simulator.stripe_checkout import (
    CheckoutFlow,
    customer_updated,
    payment_method_attached,
    stripe_checkout,
)
from tests.support import FIXTURES

CATALOG = load_catalog()
AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def published(event_type: str) -> dict[str, Any]:
    """Stripe's own event of this type (tests/fixtures, from stripe-mock)."""
    return dict(json.loads((FIXTURES / "stripe" / "events" / f"{event_type}.json").read_text()))


def checkout(flow: CheckoutFlow) -> Any:
    return stripe_checkout(
        flow, at=AT, subscription_id="sub_1", account_id="acct_1", plan="individual_monthly",
        market="SE", amount=CATALOG.price("individual_monthly", "SE"), email="a@example.com",
        locale="sv_SE", payment_method="pm_ok_1", customer="cus_1",
    )  # fmt: skip


def assert_stripe_shape(event: dict[str, Any]) -> None:
    """No field Stripe's published object of that type lacks: nothing private to us."""
    reference = published(event["type"])
    assert set(event) <= set(reference), set(event) - set(reference)
    extra = set(event["data"]["object"]) - set(reference["data"]["object"])
    assert not extra, f"{event['type']} carries fields Stripe does not send: {extra}"


@pytest.mark.parametrize("flow", list(CheckoutFlow))
def test_every_flow_sends_only_stripe_fields_and_maps_to_its_card(flow: CheckoutFlow) -> None:
    made = checkout(flow)
    mapped = []
    for event in made.events:
        assert_stripe_shape(event)
        mapped += normalise_stripe_events(event, CATALOG)
    [opened] = [e.input for e in mapped if isinstance(e.input, CheckoutCompleted)]
    assert opened.payment_method_ref == "cus_1"  # the session never names the card
    cards = [
        e.input.payment_method_ref for e in mapped if isinstance(e.input, PaymentMethodUpdated)
    ]
    if flow is CheckoutFlow.CUSTOMER_DEFAULT:  # Stripe's API answers it at charge time
        assert cards == []
        assert made.customer["invoice_settings"]["default_payment_method"] == "pm_ok_1"
    else:
        assert cards == ["cus_1:pm_ok_1"]
        assert made.customer["invoice_settings"]["default_payment_method"] is None


def test_a_card_change_is_sent_as_stripe_sends_it() -> None:
    made = checkout(CheckoutFlow.PAYMENT_INTENT)
    attached = payment_method_attached(at=AT, customer="cus_1", payment_method="pm_new")
    updated, after = customer_updated(
        at=AT, customer=made.customer, default_payment_method="pm_new"
    )
    assert after["invoice_settings"]["default_payment_method"] == "pm_new"
    assert updated["data"]["previous_attributes"] == {
        "invoice_settings": {"default_payment_method": None}
    }
    for event in (attached, updated):
        assert_stripe_shape(event)
        [mapped] = normalise_stripe_events(event, CATALOG)
        assert isinstance(mapped.input, PaymentMethodUpdated)
        assert mapped.input.payment_method_ref == "cus_1:pm_new"


@pytest.mark.parametrize("succeeded", [True, False])
def test_the_simulated_apis_renewal_intents_are_stripe_shaped(succeeded: bool) -> None:
    from refrain_tools.simulator import events

    intent = events.payment_intent(
        at=AT, amount=CATALOG.price("individual_monthly", "SE"), customer="cus_1",
        payment_method="pm_ok_1", metadata=events.renewal_metadata("sub_1", AT, 1),
        succeeded=succeeded,
    )  # fmt: skip
    event = events.payment_intent_event(intent, AT)
    assert_stripe_shape(event)
    assert [e.input for e in normalise_stripe_events(event, CATALOG)]  # and it maps
