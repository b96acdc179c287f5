"""A checkout built exactly like a real Stripe one renews with the card Stripe saved.

Each way a real integration saves the card (payment mode with setup_future_usage,
setup mode, the customer's invoice default) and a later card change: Stripe's events
through the real webhook function on the local stack, in an order Stripe does not
promise to avoid (the checkout first, or the card's event first and retried as Stripe
would), then the renewal through the real ``stripe`` library against the simulated
Stripe API, which records the customer and payment method it was asked to charge.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from refrain.adapters.gateway_stripe import StripeGateway
from refrain.domain import load_catalog
from refrain.ingest.model import subscription_id_for
from refrain.settings import CloudSettings
from refrain_tools.simulator import GatewaySimulator
from refrain_tools.simulator.stripe_checkout import (
    CheckoutFlow,
    StripeCheckout,
    customer_updated,
    payment_method_attached,
    stripe_checkout,
    stripe_price,
)
from tests.integration.ingest.conftest import Webhook, webhook  # noqa: F401 (the fixture)
from tests.integration.renewals.conftest import START, Rig, make_rig

CATALOG = load_catalog()
RENEWED_BY = START + timedelta(days=32)  # past both the first month and the 30-day trial


@pytest.fixture
def sim() -> Iterator[GatewaySimulator]:
    with GatewaySimulator() as server:
        yield server


def _checkout(flow: CheckoutFlow, name: str) -> StripeCheckout:
    return stripe_checkout(
        flow, at=START, subscription_id=f"sub_{name}", account_id=f"acct_{name}",
        plan="individual_monthly", market="SE", amount=CATALOG.price("individual_monthly", "SE"),
        email=f"{name}@example.com", locale="sv_SE", payment_method=f"pm_ok_{name}",
    )  # fmt: skip


def _deliver(hook: Webhook, events: list[dict[str, Any]]) -> None:
    """Deliver in order; an event that overtook its checkout is delivered again after it."""
    waiting = []
    for event in events:
        answer = hook.post_stripe(event)
        assert answer.status_code in (200, 422), answer.data
        if answer.status_code == 422:
            waiting.append(event)
    for event in waiting:  # Stripe's retry
        assert hook.post_stripe(event).status_code == 200


def _renew(cloud: CloudSettings, sim: GatewaySimulator) -> Rig:
    rig = make_rig(cloud, gateway=StripeGateway.create("sk_test_sim", sim.url))
    rig.clock.set(RENEWED_BY)
    rig.inline.run()
    return rig


@pytest.mark.parametrize("flow", list(CheckoutFlow))
@pytest.mark.parametrize("card_event_first", [False, True])
def test_a_real_checkout_renews_with_the_card_stripe_saved(
    cloud: CloudSettings,
    webhook: Webhook,  # noqa: F811
    sim: GatewaySimulator,
    flow: CheckoutFlow,
    card_event_first: bool,
) -> None:
    checkout = _checkout(flow, flow.value)
    sim.save_customer(checkout.customer)  # what Stripe's API then answers for the customer
    session = checkout.session["data"]["object"]
    assert "payment_method" not in session["metadata"]  # nothing but what Stripe sends
    card_events = [e for e in checkout.events if e is not checkout.session]
    ordered = (
        [*card_events, checkout.session] if card_event_first else [checkout.session, *card_events]
    )
    _deliver(webhook, ordered)
    stored = webhook.subscription(f"sub_{flow.value}") or {}
    assert stored["state"] == ("trialing" if flow is CheckoutFlow.SETUP_INTENT else "active")

    _renew(cloud, sim)

    [charge] = sim.charges()
    assert (charge.subscription_id, charge.customer) == (f"sub_{flow.value}", session["customer"])
    assert charge.method == checkout.payment_method == f"pm_ok_{flow.value}"
    renewed = webhook.subscription(f"sub_{flow.value}") or {}
    assert renewed["state"] == "active"
    assert renewed["renewal_count"] == (0 if flow is CheckoutFlow.SETUP_INTENT else 1)
    assert renewed["paid_through"] > stored["current_period_end"]


def test_a_card_change_moves_the_renewal_to_the_new_card(
    cloud: CloudSettings,
    webhook: Webhook,  # noqa: F811
    sim: GatewaySimulator,
) -> None:
    checkout = _checkout(CheckoutFlow.PAYMENT_INTENT, "change")
    customer = checkout.customer["id"]
    _deliver(webhook, checkout.events)
    later = START + timedelta(days=10)
    attached = payment_method_attached(at=later, customer=customer, payment_method="pm_ok_new")
    default, after = customer_updated(
        at=later, customer=checkout.customer, default_payment_method="pm_ok_new"
    )
    sim.save_customer(after)
    # an event about the old card delivered after the change (Stripe does not order them)
    # is older than the change: stale, the new card stays
    late = payment_method_attached(at=START, customer=customer, payment_method="pm_ok_change")
    _deliver(webhook, [default, attached, late])
    assert (webhook.subscription("sub_change") or {})[
        "payment_method_ref"
    ] == f"{customer}:pm_ok_new"

    _renew(cloud, sim)

    [charge] = sim.charges()
    assert (charge.customer, charge.method) == (customer, "pm_ok_new")


def _own_checkout(
    sim: GatewaySimulator, monkeypatch: pytest.MonkeyPatch, price_id: str, name: str
) -> StripeCheckout:
    """A business's own session selling ``price_id``, and Stripe's API to read it from."""
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_sim")
    monkeypatch.setenv("STRIPE_API_BASE", sim.url)
    amount = CATALOG.price("individual_monthly", "SE")
    checkout = stripe_checkout(
        CheckoutFlow.PAYMENT_INTENT, at=START, subscription_id="unused", account_id=name,
        plan="individual_monthly", market="SE", amount=amount, email=f"{name}@example.com",
        locale="sv_SE", payment_method=f"pm_ok_{name}",
        price=stripe_price(price_id, amount, at=START),
    )  # fmt: skip
    sim.save_line_items(checkout.session["data"]["object"]["id"], checkout.line_items)
    return checkout


def test_a_business_s_own_checkout_is_mapped_by_its_price_and_renews(
    cloud: CloudSettings,
    webhook: Webhook,  # noqa: F811
    sim: GatewaySimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No Refrain metadata: the plan from the session's line items, read from Stripe's API."""
    monkeypatch.setenv("STRIPE_PRICE_PLANS", json.dumps({"price_biz_se": "individual_monthly"}))
    checkout = _own_checkout(sim, monkeypatch, "price_biz_se", "user-77")
    session = checkout.session["data"]["object"]
    assert session["metadata"] == {}
    _deliver(webhook, checkout.events)
    sub_id = subscription_id_for("stripe", session["id"])
    stored = webhook.subscription(sub_id) or {}
    assert (stored["account_id"], stored["plan"], stored["market"]) == (
        "user-77",  # the session's client_reference_id
        "individual_monthly",
        "SE",  # the customer's billing country
    )

    _renew(cloud, sim)

    [charge] = sim.charges()
    assert (charge.subscription_id, charge.method) == (sub_id, "pm_ok_user-77")


def test_a_business_s_checkout_selling_an_unmapped_price_is_parked_for_an_operator(
    webhook: Webhook,  # noqa: F811
    sim: GatewaySimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checkout = _own_checkout(sim, monkeypatch, "price_mug", "user-78")
    session = checkout.session["data"]["object"]
    assert webhook.post_stripe(checkout.session).status_code == 200
    assert webhook.subscription(subscription_id_for("stripe", session["id"])) is None
    reasons = [
        str((d.to_dict() or {}).get("reason"))
        for d in webhook.db.collection("parked_events").stream()
    ]
    assert any("price_mug" in reason for reason in reasons), reasons


def test_a_quebec_subscription_renews_with_stripe_tax_s_tax_on_top(
    cloud: CloudSettings,
    webhook: Webhook,  # noqa: F811
    sim: GatewaySimulator,
) -> None:
    """CA: Stripe Tax added GST + QST (14.975 %) at checkout; the renewal charges the same
    on top, through the real library, and its invoice shows net, tax and total as charged."""
    from refrain.adapters.firestore_collections import OUTBOX
    from refrain.adapters.firestore_outbox import events_of
    from refrain.domain import Money
    from refrain.invoicing.builder import build_invoice

    price = CATALOG.price("individual_monthly", "CA")
    checkout = stripe_checkout(
        CheckoutFlow.PAYMENT_INTENT, at=START, subscription_id="sub_qc", account_id="acct_qc",
        plan="individual_monthly", market="CA", amount=price, email="qc@example.com",
        locale="fr_CA", payment_method="pm_ok_qc", state="QC",
    )  # fmt: skip
    sim.save_customer(checkout.customer)
    _deliver(webhook, checkout.events)
    stored = webhook.subscription("sub_qc") or {}
    assert stored["tax"] == {"amount": 180, "currency": "CAD"}  # 11.99 * 14.975 % = 1.7955

    rig = _renew(cloud, sim)

    [charge] = sim.charges()
    assert charge.amount == price + Money(180, "CAD")  # net + tax, never the net alone
    entries = [events_of(d.to_dict() or {}) for d in rig.db.collection(OUTBOX).stream()]
    [paid] = [e for es in entries for e in es if e.type.value == "invoice.paid"
              and e.payload["billing_reason"] == "subscription_cycle"]  # fmt: skip
    invoice = build_invoice(paid, CATALOG, "fr_CA", 4)
    assert (invoice.net_total, invoice.tax_total) == (price, Money(180, "CAD"))
    assert invoice.gross_total == charge.amount
