"""The demo's provider-managed subscribers: Stripe Billing, Google Play and the App Store.

Here the provider renews and retries; Refrain only mirrors what it is told.
Each provider gets a handful of subscribers, and every one of them lives one
of four stories, decided up front like the rest of the business:

=========  =================================================================
renews     signs up, then renews every month
cancels    turns auto-renew off ten days in, and ends at the period end
recovers   a renewal payment fails, the provider retries and it pays
fails      a renewal payment fails and stays failed (past due / on hold)
=========  =================================================================

What each story sends, in the provider's own notifications, is built by
:func:`stripe_billing_story` here and by :mod:`refrain_tools.demo.app_stores`
(Google Play, App Store). The demo sends every notice at its time on the
simulated clock, through the same signed, retrying, reordering sender as the
card providers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from refrain.domain.catalog import Catalog
from refrain.domain.money import Money
from refrain.domain.subscription import add_months
from refrain_tools.simulator import events

STORIES = ("renews", "cancels", "recovers", "fails", "renews", "renews")
STORE_PROVIDERS = ("stripe_billing", "google_play", "apple")
# How far into the first period a "cancels" subscriber turns auto-renew off, and how long
# after a failed renewal the provider's retry pays for a "recovers" one.
CANCEL_AFTER = timedelta(days=10)
RETRY_AFTER = timedelta(days=3)


@dataclass(frozen=True)
class StoreCustomer:
    provider: str  # "stripe_billing" | "google_play" | "apple"
    index: int
    market: str
    plan: str
    story: str
    signed_up_at: datetime

    @property
    def key(self) -> str:
        return f"{self.index:04d}"


@dataclass(frozen=True)
class StoreNotice:
    """One notification a provider sends at ``at``.

    ``purchase``: Google Play's (package, purchase token, SubscriptionPurchaseV2) that
    ``purchases.subscriptionsv2.get`` answers from ``at`` on (the push only says that
    something changed; the webhook reads the purchase).
    """

    at: datetime
    provider: str  # the route: "stripe" | "google_play" | "apple"
    body: dict[str, Any]
    event_id: str
    event_type: str
    purchase: tuple[str, str, dict[str, Any]] | None = None


def plan_store_customers(
    per_provider: int,
    start: datetime,
    catalog: Catalog,
    markets: tuple[str, ...],
    plans: tuple[str, ...],
) -> list[StoreCustomer]:
    """``per_provider`` subscribers for each store, signing up an hour after the card ones."""
    out = []
    for p, provider in enumerate(STORE_PROVIDERS):
        for i in range(per_provider):
            n = p * per_provider + i
            market = markets[(n * 3 + 1) % len(markets)]
            rotated = plans[n % len(plans) :] + plans[: n % len(plans)]
            plan = next(p for p in rotated if p in catalog.market(market).prices)
            out.append(
                StoreCustomer(
                    provider=provider,
                    index=i,
                    market=market,
                    plan=plan,
                    story=STORIES[i % len(STORIES)],
                    signed_up_at=start + timedelta(hours=1, seconds=20 * n),
                )
            )
    return out


def anniversaries(customer: StoreCustomer, until: datetime) -> list[datetime]:
    """Each monthly renewal date after sign-up, up to ``until``."""
    dates, month = [], 1
    while (at := add_months(customer.signed_up_at, month)) <= until:
        dates.append(at)
        month += 1
    return dates


def fail_at(customer: StoreCustomer, renewals: list[datetime]) -> datetime | None:
    """The renewal that fails: the first for "recovers", the last for "fails"."""
    if customer.story == "recovers" and renewals:
        return renewals[0]
    if customer.story == "fails" and renewals:
        return renewals[-1] if customer.provider == "stripe_billing" else renewals[-2:][0]
    return None


# Stripe Billing -------------------------------------------------------------------


def stripe_subscription_id(customer: StoreCustomer) -> str:
    return f"sub_billing_demo_{customer.key}"


def stripe_billing_story(
    customer: StoreCustomer, catalog: Catalog, until: datetime
) -> list[StoreNotice]:
    """Checkout, subscription and invoice events of one Stripe Billing subscriber."""
    sub = stripe_subscription_id(customer)
    price: Money = catalog.price(customer.plan, customer.market)
    start = customer.signed_up_at
    common: dict[str, Any] = {
        "stripe_subscription": sub,
        "customer": f"cus_billing_demo_{customer.key}",
        "amount": price,
    }
    owner: dict[str, Any] = {
        "account_id": f"acct_billing_demo_{customer.key}",
        "plan": customer.plan,
        "market": customer.market,
        "started": start,
    }
    out: list[StoreNotice] = []

    def subscription(kind: str, at: datetime, begins: datetime, **extra: Any) -> None:
        event = events.billing_subscription(
            kind,
            at=at,
            period_start=begins,
            period_end=add_months(begins, 1),
            **common,
            **owner,
            **extra,
        )
        out.append(_stripe(at, event))

    def invoice(at: datetime, begins: datetime, invoice_id: str, **extra: Any) -> None:
        event = events.billing_invoice(
            at=at,
            period_start=begins,
            period_end=add_months(begins, 1),
            invoice_id=invoice_id,
            **common,
            **extra,
        )
        out.append(_stripe(at, event))

    first = f"in_billing_demo_{customer.key}_0"
    subscription("created", start, start)
    invoice(
        start + timedelta(seconds=1), start, first, paid=True, billing_reason="subscription_create"
    )
    checkout = events.billing_checkout(
        at=start + timedelta(seconds=2),
        stripe_subscription=sub,
        invoice_id=first,
        customer=common["customer"],
        account_id=owner["account_id"],
        plan=customer.plan,
        market=customer.market,
        amount=price,
        email=f"billing{customer.key}@example.com",
        locale=catalog.market(customer.market).default_locale,
    )
    out.append(_stripe(start + timedelta(seconds=2), checkout))
    renewals = anniversaries(customer, until)
    failing = fail_at(customer, renewals)
    previous = start
    if customer.story == "cancels":
        asked = start + CANCEL_AFTER
        subscription(
            "updated",
            asked,
            start,
            cancel_at_period_end=True,
            cancellation_reason="cancellation_requested",
            previous_attributes={"cancel_at_period_end": False, "canceled_at": None},
        )
        ends = add_months(start, 1)
        subscription(
            "deleted",
            ends,
            start,
            cancel_at_period_end=True,
            cancellation_reason="cancellation_requested",
        )
        return out
    for n, at in enumerate(renewals, start=1):
        invoice_id = f"in_billing_demo_{customer.key}_{n}"
        rolled = {"items": {"object": "list", "data": [_period(previous)]}}
        if at == failing:
            subscription(
                "updated",
                at,
                at,
                status="past_due",
                previous_attributes={**rolled, "status": "active"},
            )
            invoice(
                at + timedelta(hours=1),
                at,
                invoice_id,
                paid=False,
                next_payment_attempt=at + RETRY_AFTER,
            )
            if customer.story == "fails":
                break
            retried = at + RETRY_AFTER
            invoice(retried, at, invoice_id, paid=True, attempt_count=2)
            subscription(
                "updated",
                retried + timedelta(seconds=1),
                at,
                status="active",
                previous_attributes={"status": "past_due"},
            )
        else:
            subscription("updated", at, at, previous_attributes=rolled)
            invoice(at + timedelta(minutes=10), at, invoice_id, paid=True)
        previous = at
    return out


def _period(begins: datetime) -> dict[str, int]:
    return {
        "current_period_start": int(begins.timestamp()),
        "current_period_end": int(add_months(begins, 1).timestamp()),
    }


def _stripe(at: datetime, event: dict[str, Any]) -> StoreNotice:
    return StoreNotice(at, "stripe", event, str(event["id"]), str(event["type"]))
