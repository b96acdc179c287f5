"""The demo's money beyond renewals: refunds (dashboard and operator), disputes won and lost,
and the check that every subscription's documents say what the payment provider kept.

The money side of the check is the simulated provider's own ledger (what it captured,
refunded and lost in disputes, per payment); the document side is read back from
Firestore (invoices minus credit notes). They must agree to the minor unit for every
merchant-managed subscription (docs/DESIGN.md invariant 10).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore

from refrain.adapters.firestore_collections import INVOICES
from refrain.care.refunds import RefundOrder, RefundService
from refrain.domain.catalog import Catalog
from refrain.domain.money import Money
from refrain_tools.demo.business import (
    Business,
    chargeback_event,
    checkout_total,
    dashboard_refund,
    stripe_dispute,
)
from refrain_tools.demo.report import Check, Summary
from refrain_tools.simulator.gateway import GatewaySimulator

Notify = Callable[[str, dict[str, Any]], None]  # (provider, notification)


def disputes_and_refunds(
    business: Business,
    catalog: Catalog,
    gateway: GatewaySimulator,
    notify: Notify,
    *,
    set_clock: Callable[[datetime], None],
    settle: Callable[[], None],
) -> None:
    """Day 12: a dashboard refund, a Stripe dispute and an Adyen chargeback open. Day 20: the
    Stripe dispute is lost (the network keeps the money), the Adyen one reversed (won)."""
    refund, lost, won = business.refund, business.dispute_lost, business.chargeback
    assert refund is not None and lost is not None and won is not None
    day12 = business.start + timedelta(days=12)
    set_clock(day12)
    headers = {"authorization": "Bearer sk_test_dashboard", "idempotency-key": "dashboard-1"}
    gateway.handle("/v1/refunds", headers, dashboard_refund(refund))  # notifies charge.refunded
    notify("stripe", stripe_dispute(lost, catalog, day12, "needs_response"))
    notify("adyen", chargeback_event(won, catalog, day12, "NOTIFICATION_OF_CHARGEBACK"))
    notify("adyen", chargeback_event(won, catalog, day12))
    settle()
    day20 = business.start + timedelta(days=20)
    set_clock(day20)
    notify("stripe", stripe_dispute(lost, catalog, day20, "lost"))
    gateway.refunds.dispute_lost(
        "stripe", lost.payment_intent, checkout_total(lost, catalog).amount
    )
    notify("adyen", chargeback_event(won, catalog, day20, "CHARGEBACK_REVERSED"))
    settle()


def operator_refund(business: Business, catalog: Catalog, refunds: RefundService) -> None:
    """An agent refunds half of a customer's first payment, and retries the same request."""
    customer = business.operator_refund
    assert customer is not None
    half = Money(
        checkout_total(customer, catalog).amount // 2, checkout_total(customer, catalog).currency
    )
    order = RefundOrder(customer.subscription_id, "requested_by_customer", "demo-refund-1", half)
    refunds.refund(order)
    refunds.refund(order)  # the agent's double click: the same refund, made once


def check_money_conserved(db: firestore.Client, kept: dict[str, Money], summary: Summary) -> None:
    """Per subscription: invoices minus credit notes == what the provider kept, exactly."""
    documented: dict[str, Money] = {}
    for doc in db.collection(INVOICES).stream():
        data = doc.to_dict() or {}
        sub, gross = str(data.get("subscription_id")), Money.from_dict(data["totals"]["gross"])
        documented[sub] = documented[sub] + gross if sub in documented else gross
    wrong = sorted(
        sub
        for sub, money in kept.items()
        if documented.get(sub, Money.zero(money.currency)) != money
    )
    summary.checks.append(
        Check(
            "money conserved per subscription: invoices minus credit notes = kept at the provider",
            not wrong,
            f"{len(kept)} merchant-managed subscriptions agree to the minor unit"
            if not wrong
            else f"{len(wrong)} differ, e.g. {wrong[:3]}",
        )
    )
