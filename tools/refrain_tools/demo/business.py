"""The demo's subscription business: who signs up where, how they pay, what they do.

Everything is decided up front from a seed, so a run is reproducible and the
summary can say what was expected. The providers' side goes through the
simulator (signed webhooks, retries, duplicates, reordering, a gateway that
answers the renewal charges); the customers' side goes through the same
customer-care service an agent would use.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from refrain.domain.catalog import Catalog, load_catalog
from refrain.domain.money import Money
from refrain.providers.adyen_webhook import checkout_reference
from refrain_tools.simulator import events
from refrain_tools.simulator.stripe_checkout import CheckoutFlow, stripe_checkout
from refrain_tools.simulator.stripe_tax import stripe_tax

MARKETS = ("SE", "DE", "GB", "US", "JP", "BR", "KW", "FR", "MX", "IN")
# How cards behave at renewal (see refrain_tools.simulator.outcomes), with weights.
CARD_MIX = (
    ("ok", 70),
    ("flaky_2", 12),  # declines twice, then pays: dunning recovers it
    ("insufficient_funds", 10),  # keeps declining softly: grace, hold, involuntary churn
    ("stolen", 5),  # hard decline: no retries, then churn
    ("expired", 3),
)
PLANS = (
    ("individual_monthly", 60),
    ("duo_monthly", 15),
    ("family_monthly", 15),
    ("student_monthly", 10),
)
# After each renewal date, in days: renewal, two retries, grace over, a late retry, hold
# over. Cloud Scheduler ticks every few minutes in the cloud; these are the ticks where
# something is due, which is all the demo needs to show the whole dunning path.
TICK_OFFSETS = (0, 3, 8, 22, 31)


@dataclass(frozen=True)
class Customer:
    index: int
    provider: str  # "stripe" | "adyen"
    market: str
    plan: str
    card: str
    signed_up_at: datetime

    @property
    def subscription_id(self) -> str:
        return f"sub_demo_{self.index:04d}"

    @property
    def account_id(self) -> str:
        return f"acct_demo_{self.index:04d}"

    @property
    def email(self) -> str:
        return f"customer{self.index:04d}@example.com"

    @property
    def payment_intent(self) -> str:
        return f"pi_demo_checkout_{self.index:04d}"

    @property
    def psp_reference(self) -> str:
        return f"PSPDEMO{self.index:08d}"


@dataclass
class Business:
    customers: list[Customer]
    start: datetime
    months: int
    cancels: list[Customer] = field(default_factory=list)
    reverts: list[Customer] = field(default_factory=list)
    upgrade: Customer | None = None
    downgrade: Customer | None = None
    refund: Customer | None = None  # refunded in Stripe's dashboard
    operator_refund: Customer | None = None  # refunded by an agent (refrain refunds create)
    interval_change: Customer | None = None  # monthly to yearly: credit, charge, new anchor
    dispute_lost: Customer | None = None  # a Stripe dispute the merchant loses
    chargeback: Customer | None = None

    def tick_times(self) -> list[datetime]:
        """When Cloud Scheduler's tick matters: renewals and every dunning step after them."""
        times: set[datetime] = set()
        for month in range(1, self.months + 1):
            renewal = _add_months(self.start, month) + timedelta(hours=2)
            times.update(renewal + timedelta(days=d) for d in TICK_OFFSETS)
        return sorted(times)


def plan_business(count: int, start: datetime, months: int, seed: int) -> Business:
    rng = random.Random(seed)  # noqa: S311 - a reproducible scenario, not a secret
    # Where the tax depends on the address only Stripe (Stripe Tax) sells: Adyen is refused.
    stripe_only = {code for code, m in load_catalog().markets.items() if m.tax_source == "address"}
    customers = [
        Customer(
            index=i,
            provider="stripe"
            if i % 2 == 0 or MARKETS[i % len(MARKETS)] in stripe_only
            else "adyen",
            market=MARKETS[i % len(MARKETS)],
            plan=_weighted(rng, PLANS),
            card=_weighted(rng, CARD_MIX),
            signed_up_at=start + timedelta(seconds=20 * i),
        )
        for i in range(count)
    ]
    healthy = [c for c in customers if c.card == "ok"]
    rng.shuffle(healthy)
    business = Business(customers, start, months)
    business.cancels = healthy[: max(2, count // 10)]
    business.reverts = business.cancels[: max(1, len(business.cancels) // 3)]
    rest = [c for c in healthy if c not in business.cancels]
    monthly = [c for c in rest if c.plan == "individual_monthly"]
    business.upgrade, business.interval_change = monthly[0], monthly[1]
    business.downgrade = next(c for c in rest if c.plan in ("duo_monthly", "family_monthly"))
    changed = (business.upgrade, business.interval_change)
    stripe_rest = [c for c in rest if c.provider == "stripe" and c not in changed]
    adyen_rest = [c for c in rest if c.provider == "adyen" and c is not business.downgrade]
    business.refund, business.operator_refund, business.dispute_lost = stripe_rest[:3]
    business.chargeback = adyen_rest[0]
    return business


@dataclass(frozen=True)
class Signup:
    """What a checkout sends (provider, payload), and the Stripe customer the API then holds."""

    notifications: list[tuple[str, dict[str, Any]]]
    stripe_customer: dict[str, Any] | None = None


def signup(customer: Customer, catalog: Catalog) -> Signup:
    """The provider's notifications of this customer's paid checkout, as the provider sends them.

    Stripe: most checkouts save the card on the PaymentIntent (setup_future_usage); every
    fourth customer already had an invoice default, which renewals read from Stripe's API.
    """
    price = catalog.price(customer.plan, customer.market)
    locale = catalog.market(customer.market).default_locale
    common: dict[str, Any] = {
        "at": customer.signed_up_at,
        "subscription_id": customer.subscription_id,
        "account_id": customer.account_id,
        "plan": customer.plan,
        "market": customer.market,
        "amount": price,
        "email": customer.email,
        "locale": locale,
    }
    if customer.provider == "stripe":
        flow = (
            CheckoutFlow.CUSTOMER_DEFAULT
            if customer.index % 4 == 3
            else CheckoutFlow.PAYMENT_INTENT
        )
        checkout = stripe_checkout(
            flow, **common, payment_method=f"pm_{customer.card}",
            payment_intent_id=customer.payment_intent,
        )  # fmt: skip
        return Signup([("stripe", e) for e in checkout.events], checkout.customer)
    item = events.adyen_checkout(
        **common,
        token=f"{customer.card.upper()}_{customer.index}",
        psp_reference=customer.psp_reference,
    )
    return Signup([("adyen", item)])


def checkout_total(customer: Customer, catalog: Catalog) -> Money:
    """What the checkout charged: the price, with Stripe Tax on top where it adds it."""
    price = catalog.price(customer.plan, customer.market)
    tax = (
        stripe_tax(customer.market, price, catalog=catalog)
        if customer.provider == "stripe"
        else None
    )
    return price + tax if tax is not None else price


def dashboard_refund(customer: Customer) -> bytes:
    """A full refund made in Stripe's dashboard: the same API call, then its webhook."""
    return f"payment_intent={customer.payment_intent}".encode()


def chargeback_event(
    customer: Customer, catalog: Catalog, at: datetime, stage: str = "CHARGEBACK"
) -> dict[str, Any]:
    """One stage of the Adyen dispute of this customer's first payment (one dispute psp)."""
    return events.adyen_chargeback(
        at=at,
        original_reference=customer.psp_reference,
        merchant_reference=checkout_reference(
            customer.subscription_id, customer.account_id, customer.plan, customer.market
        ),
        amount=catalog.price(customer.plan, customer.market),
        event_code=stage,
        dispute_psp=f"PSPDISPUTE{customer.index:06d}",
    )


def stripe_dispute(
    customer: Customer, catalog: Catalog, at: datetime, status: str
) -> dict[str, Any]:
    """charge.dispute.created ("needs_response") or .closed ("won" / "lost"), one dispute id."""
    return events.dispute_created(
        at=at, payment_intent=customer.payment_intent, amount=checkout_total(customer, catalog),
        dispute_id=f"du_demo_{customer.index:04d}", status=status,
    )  # fmt: skip


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _add_months(at: datetime, months: int) -> datetime:
    from refrain.domain.subscription import add_months

    return add_months(at, months)


def foreign_notifications(at: datetime) -> list[tuple[str, dict[str, Any]]]:
    """What a real merchant account also sends: things Refrain never created.

    A one-off Stripe purchase, a subscription an agent made in Stripe's dashboard
    (no metadata of ours, a price nothing maps) and an Adyen refund of a web-shop
    order. Each is authentic: answered 2xx, parked, listed by `refrain webhooks
    unmatched`, never applied to anyone.
    """
    one_off = events.payment_intent(
        at=at, amount=Money(4900, "EUR"), customer="cus_webshop_1", payment_method="pm_ok",
        metadata={}, succeeded=True, pi_id="pi_webshop_order_88123",
    )  # fmt: skip
    dashboard = events.billing_subscription(
        "created", at=at, stripe_subscription="sub_dashboard_made_1", customer="cus_agent_1",
        account_id="", plan="legacy_gold_annual", market="SE", amount=Money(99000, "SEK"),
        period_start=at, period_end=_add_months(at, 12),
    )  # fmt: skip
    dashboard["data"]["object"]["metadata"] = {}
    refund = events.adyen_refund(
        at=at, original_reference="PSPWEBSHOP0000088", merchant_reference="webshop-order-88",
        amount=Money(2500, "EUR"),
    )  # fmt: skip
    return [
        ("stripe", events.payment_intent_event(one_off, at)),
        ("stripe", dashboard),
        ("adyen", refund),
    ]
