"""The README demo: a small subscription business running on the local stack.

1. start the local stack and serve every function with functions-framework,
   with Pub/Sub push subscriptions pointing at them as in the cloud;
2. customers in ten markets sign up through Stripe and Adyen, whose renewals
   Refrain charges, and through Stripe Billing, Google Play and the App Store,
   which renew themselves while Refrain mirrors them (the simulator signs,
   retries, duplicates and reorders every provider's notifications; a local
   stand-in answers Google's certificates and Android Publisher API);
3. customer care cancels, reverts and changes plans; a refund and a chargeback
   arrive;
4. months pass on a shared simulated clock: Cloud Scheduler's ticks are
   published to `renewal-ticks`, the renewal functions charge through the
   simulated gateways, dunning retries, recovers or churns; the stores and
   Stripe Billing renew, cancel, fail and recover on their own schedule;
5. the summary is read back from the stores, and every invariant is checked.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from refrain.care.actions import Action, CareRequest, CareService, new_request_id
from refrain.care.refunds import RefundService
from refrain.clocks import CLOCK_FILE_ENV, FileClock
from refrain.domain.catalog import load_catalog
from refrain.domain.money import Money
from refrain.settings import CloudSettings
from refrain.topology import EXPORT_FLUSHES, FEATURE_SNAPSHOTS, OUTBOX_SWEEPS, RENEWAL_TICKS
from refrain_tools.demo.app_stores import store_env, store_notices
from refrain_tools.demo.business import (
    MARKETS,
    PLANS,
    Business,
    Customer,
    checkout_total,
    foreign_notifications,
    plan_business,
    signup,
)
from refrain_tools.demo.money import check_money_conserved, disputes_and_refunds, operator_refund
from refrain_tools.demo.quiet import wait_for_entries, wait_quiet
from refrain_tools.demo.report import (
    Summary,
    check_acknowledged,
    check_charges,
    check_dead_letters,
    check_outbox,
    check_provider_managed_uncharged,
    summarise_money,
    summarise_parked,
    summarise_receipts,
    summarise_signals,
    summarise_subscriptions,
)
from refrain_tools.demo.servers import FunctionServers
from refrain_tools.demo.stores import StoreNotice, plan_store_customers
from refrain_tools.simulator import DeliveryPolicy, GatewaySimulator, WebhookSender
from refrain_tools.simulator.apple import apple_pki
from refrain_tools.simulator.google_play import AUDIENCE, PUSH_ACCOUNT, google_signer
from refrain_tools.simulator.google_server import LocalGoogle
from refrain_tools.stack.manager import StackManager

STRIPE_SECRET = "whsec_demo_local_only"  # noqa: S105 - the demo's own local endpoint secret
PLAN_IDS = tuple(plan for plan, _ in PLANS)
ADYEN_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"  # Adyen's test key
ADYEN_BASIC_AUTH = ("refrain", "demo-basic-auth-local-only")  # pragma: allowlist secret


@dataclass(frozen=True)
class DemoOptions:
    customers: int = 150
    store_customers: int = 6  # each for Stripe Billing, Google Play and the App Store
    months: int = 2
    seed: int = 7
    start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    out_dir: Path = Path(".refrain/demo")


# progress(step name, done, total)
Progress = Callable[[str, int, int], None]


class DemoRun:
    """One run: functions served, simulator attached, business played, results read back."""

    def __init__(
        self, manager: StackManager, settings: CloudSettings, options: DemoOptions
    ) -> None:
        from refrain.adapters.firestore import build_firestore
        from refrain.adapters.pubsub import OrderedPublisher, build_publisher

        self.manager, self.settings, self.options = manager, settings, options
        self.catalog = load_catalog()
        self.business = plan_business(
            options.customers, options.start, options.months, options.seed
        )
        self.work = Path(tempfile.mkdtemp(prefix="refrain-demo-"))
        self.clock = FileClock(self.work / "clock")
        self.clock.set(options.start)
        self.db = build_firestore(settings)
        self.publisher = OrderedPublisher(build_publisher(settings), settings.project)
        self.gateway = GatewaySimulator(clock=self.clock)
        self._gateway_started = False
        self.servers = FunctionServers(env={}, log_dir=self.work / "logs")
        self.ticks = self.business.tick_times()
        self.charges_expected = 0
        self.store_customers = plan_store_customers(
            options.store_customers, options.start, self.catalog, MARKETS, PLAN_IDS
        )
        self.notices = store_notices(self.store_customers, self.catalog, self.ticks[-1])
        self.google: LocalGoogle | None = None
        self.price_change: tuple[str, str, Money, int] | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        from refrain.bootstrap import build_care_service
        from refrain.observability import get_logger

        self.gateway.start()
        self._gateway_started = True
        self.google = LocalGoogle.start(google_signer())
        self.servers.env = {
            **self.manager.config.client_environment(),
            **self.gateway.env(),
            CLOCK_FILE_ENV: str(self.work / "clock"),
            "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
            "ADYEN_HMAC_KEY": ADYEN_KEY,
            "ADYEN_BASIC_AUTH_USER": ADYEN_BASIC_AUTH[0],
            "ADYEN_BASIC_AUTH_PASSWORD": ADYEN_BASIC_AUTH[1],
            "REFRAIN_SUBSCRIBER_PEPPER": "demo-pepper-local-only",
            "REFRAIN_ENVIRONMENT": "local",
            "REFRAIN_ACCOUNT_URL": "https://account.refrain.example",
            # the app stores: Google's push tokens and API are the local stand-in's, the
            # App Store's chain ends in the demo's own test root
            **store_env(PLAN_IDS),
            **self.google.env(),
            "GOOGLE_PLAY_PUSH_AUDIENCE": AUDIENCE,
            "GOOGLE_PLAY_PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT,
            "APPLE_ROOT_CERTS": str(apple_pki().write_root(self.work)),
        }
        urls = self.servers.start()
        self.manager.reset(push_endpoints=self.servers.push_endpoints(self.settings.project))
        self.hooks = WebhookSender(
            urls["checkout_webhook"],
            stripe_secret=STRIPE_SECRET,
            adyen_hmac_key=ADYEN_KEY,
            adyen_basic_auth=ADYEN_BASIC_AUTH,
            push_token=google_signer().token,
            policy=DeliveryPolicy(seed=self.options.seed, duplicate_rate=0.1, shuffle_window=6),
        )
        self.gateway.webhooks = self.hooks  # the gateway also notifies, like the real providers
        care_log = (self.work / "logs" / "customer_care.jsonl").open("a")
        self.care_log = get_logger("customer_care", stream=care_log)
        self.care = build_care_service(self.settings, self.clock, self.care_log)

    def stop(self) -> None:
        self.servers.stop()
        if self.google is not None:
            self.google.stop()
            self.google = None
        if self._gateway_started:
            self.gateway.stop()
            self._gateway_started = False

    def quiet(self) -> None:
        wait_quiet(self.work / "logs", self.db)

    def flush_exports(self) -> None:
        """What Cloud Scheduler does every minute: churn_export drains `churn-export`."""
        self.publisher.publish(EXPORT_FLUSHES, b"{}", {"type": "export.flush"})
        self.quiet()

    # -- the business ------------------------------------------------------------

    def _notify(self, provider: str, event: dict[str, Any]) -> None:
        """Send one provider notification through the simulator, signed as that provider."""
        (self.hooks.send_stripe if provider == "stripe" else self.hooks.send_adyen)(event)

    def _stores_until(self, until: datetime) -> None:
        """What Stripe Billing and the app stores send up to ``until``, each at its time.

        The clock only moves forward (a notice stamped earlier than now is simply late);
        a Play notice first changes what the Android Publisher API answers.
        """
        while self.notices and self.notices[0].at <= until:
            notice: StoreNotice = self.notices.pop(0)
            if notice.at > self.clock.now():
                self.clock.set(notice.at)
            if notice.purchase is not None:
                assert self.google is not None
                self.google.api.set_purchase(*notice.purchase)
            if notice.provider == "google_play":
                self.hooks.send_google_play(notice.body, notice.event_type)
            elif notice.provider == "apple":
                self.hooks.send_apple(notice.body, notice.event_id, notice.event_type)
            else:
                self._notify(notice.provider, notice.body)

    def signups(self, progress: Progress) -> None:
        customers = self.business.customers
        for i, customer in enumerate(customers, start=1):
            made = signup(customer, self.catalog)
            if made.stripe_customer is not None:
                self.gateway.save_customer(made.stripe_customer)
            ref = (
                customer.payment_intent if customer.provider == "stripe" else customer.psp_reference
            )
            total = checkout_total(customer, self.catalog)  # the provider holds the payment
            self.gateway.save_payment(
                customer.provider, ref, total, subscription_id=customer.subscription_id
            )
            for provider, event in made.notifications:
                self._notify(provider, event)
            progress("customers sign up through Stripe and Adyen", i, len(customers))
        signed_up = self.options.start + timedelta(hours=3)
        store = len(self.store_customers)
        self._stores_until(signed_up)
        progress("… and through Stripe Billing, Google Play and the App Store", store, store)
        self.clock.set(signed_up)
        self.hooks.flush()
        self.quiet()
        self.flush_exports()

    def first_weeks(self, progress: Progress) -> None:
        _care_actions(self.business, self.care, self.clock, progress)
        self.hooks.flush()
        self.quiet()
        operator_refund(self.business, self.catalog, self._refunds())

        def settle() -> None:
            self._stores_until(self.clock.now())
            self.hooks.flush()
            self.quiet()

        at12 = self.options.start + timedelta(days=12)
        for provider, event in foreign_notifications(at12):
            self._notify(provider, event)
        disputes_and_refunds(
            self.business, self.catalog, self.gateway, self._notify,
            set_clock=self.clock.set, settle=settle,
        )  # fmt: skip
        progress("refunds (dashboard, operator) and disputes (lost, won)", 1, 1)
        self._price_change(settle)

    def _price_change(self, settle: Callable[[], None]) -> None:
        """Day 20: SE individual_monthly goes from 139.00 to 149.00 from day 55; every
        subscriber is told now and pays it from their first renewal 30 days after."""
        from refrain.bootstrap import build_price_service
        from refrain.pricing.schedule import PriceChangeRow

        prices = build_price_service(self.settings, self.clock, self.care_log)
        effective = self.options.start + timedelta(days=55)
        [change] = prices.schedule(
            [PriceChangeRow("individual_monthly", "SE", "149.00", effective)]
        )
        told = prices.notify(change.change_id)
        self.price_change = (change.plan, change.market, change.price, told.notified)
        settle()

    def _refunds(self) -> RefundService:
        """`refrain refunds create`'s service, refunding through the simulated providers."""
        from refrain.adapters.gateway_adyen import AdyenGateway
        from refrain.adapters.gateway_stripe import StripeGateway
        from refrain.bootstrap import build_refund_service
        from refrain.renewals.gateway import GatewayRouter

        env = self.gateway.env()
        gateways = GatewayRouter({
            "stripe": StripeGateway.create(env["STRIPE_API_KEY"], self.gateway.url),
            "adyen": AdyenGateway.create(
                env["ADYEN_API_KEY"], env["ADYEN_MERCHANT_ACCOUNT"], checkout_url=self.gateway.url
            ),
        })  # fmt: skip
        return build_refund_service(self.settings, self.clock, self.care_log, gateways=gateways)

    def months_pass(self, progress: Progress) -> None:
        logs = self.work / "logs"
        for i, at in enumerate(self.ticks, start=1):
            self._stores_until(at)
            self.clock.set(at)
            # Cloud Scheduler's minutely outbox sweep also looks again at parked events
            # (one whose wake-up raced its subscription's creation is applied here).
            self.publisher.publish(OUTBOX_SWEEPS, b"{}", {"type": "outbox.sweep"})
            self.publisher.publish(RENEWAL_TICKS, b"{}", {"type": "renewal.tick"})
            # Pub/Sub push paces its deliveries: wait for the tick and all of its charges,
            # not just for a quiet moment, before the clock may move on.
            ticks = wait_for_entries(logs / "renewal_tick.log", "renewal tick", i)
            self.charges_expected += int(str(ticks[-1].get("published", 0))) if ticks else 0
            wait_for_entries(logs / "renewal_charge.log", "renewal charge", self.charges_expected)
            self.quiet()
            self.hooks.flush()
            self.quiet()
            if i % 5 == 0 or i == len(self.ticks):
                self.flush_exports()
            progress(f"months pass: renewals and dunning ({at:%Y-%m-%d})", i, len(self.ticks))
        day = (self.clock.now() - timedelta(days=1)).date().isoformat()
        body = json.dumps({"date": day}).encode()
        self.publisher.publish(FEATURE_SNAPSHOTS, body, {"type": "feature.snapshot"})
        self.quiet()

    # -- results -----------------------------------------------------------------

    def _price_change_stats(self) -> str:
        if self.price_change is None:
            return "none"
        plan, market, price, told = self.price_change
        paid = _invoices_at(self.db, plan, market, price.amount)
        return f"{plan} {market} to {price}: {told} subscribers told, {paid} renewals paid at it"

    def summarise(self) -> tuple[Summary, dict[str, object]]:
        from refrain.adapters.bigquery import build_bigquery
        from refrain.adapters.pubsub import build_subscriber
        from refrain_tools.ops.dlq import DeadLetterQueue, routes
        from refrain_tools.stack.mailbox import sent_raw_mail

        summary = Summary()
        summarise_subscriptions(self.db, summary)
        summarise_money(self.db, summary)
        mail = sent_raw_mail(self.manager.config)
        summarise_receipts(self.db, mail, self.options.out_dir, summary)
        summarise_signals(build_bigquery(self.settings), self.settings.project, summary)
        check_outbox(self.db, summary)
        summarise_parked(self.db, summary)
        check_acknowledged(self.hooks.stats().as_dict(), summary)
        check_charges(self.gateway.successful_charges_per_period(), summary)
        charged = {c.subscription_id for c in self.gateway.charges() if c.subscription_id}
        check_provider_managed_uncharged(self.db, charged, summary)
        check_money_conserved(self.db, self.gateway.refunds.kept_by_subscription(), summary)
        dlq = DeadLetterQueue(
            build_subscriber(self.settings), self.publisher, self.settings.project, 0.5
        )
        check_dead_letters({r.dead_letter_topic: len(dlq.peek(r)) for r in routes()}, summary)
        stats: dict[str, object] = {
            "price change": self._price_change_stats(),
            "webhook deliveries": self.hooks.stats().as_dict(),
            "gateway charges": len(self.gateway.charges()),
            "scheduler ticks": len(self.ticks),
            "simulated until": self.clock.now().date().isoformat(),
            "function CPU s": {k: round(v, 1) for k, v in self.servers.cpu_seconds().items()},
            "function logs": str(self.work / "logs"),
        }
        return summary, stats


def _invoices_at(db: Any, plan: str, market: str, amount: int) -> int:
    from refrain.adapters.firestore_collections import INVOICES

    return sum(
        1
        for doc in db.collection(INVOICES).stream()
        if (d := doc.to_dict() or {}).get("market") == market
        and d["lines"][0]["plan"] == plan
        and d["totals"]["gross"]["amount"] == amount
    )


def _care_actions(
    business: Business, care: CareService, clock: FileClock, progress: Progress
) -> None:
    """What agents do in the first weeks, through the same path as provider events."""
    start = business.start

    def ask(action: Action, customer: Customer, **extra: str) -> CareRequest:
        return CareRequest(action, customer.subscription_id, new_request_id(), **extra)  # type: ignore[arg-type]

    steps = [
        (start + timedelta(days=6), ask(Action.CANCEL, c, reason="too_expensive"))
        for c in business.cancels
    ]
    steps += [(start + timedelta(days=9), ask(Action.REVERT, c)) for c in business.reverts]
    if business.upgrade is not None:
        steps.append(
            (
                start + timedelta(days=10),
                ask(Action.CHANGE_PLAN, business.upgrade, plan="family_monthly"),
            )
        )
    if business.interval_change is not None:  # monthly to yearly: unused time credited
        steps.append(
            (
                start + timedelta(days=10),
                ask(Action.CHANGE_PLAN, business.interval_change, plan="individual_yearly"),
            )
        )
    if business.downgrade is not None:
        steps.append(
            (
                start + timedelta(days=10),
                ask(Action.CHANGE_PLAN, business.downgrade, plan="student_monthly"),
            )
        )
    for i, (at, request) in enumerate(steps, start=1):
        clock.set(at)
        care.perform(request)
        progress("customer care: cancellations, reverts, plan changes", i, len(steps))
