"""The composition root: every service Refrain runs is built here, and only here.

Each builder reads its settings from the environment (or takes them as
arguments, for tests and tooling), opens the clients it needs and hands the
adapters to a use case that only knows their ports. Adapters and client
libraries are imported inside the builder that uses them, so a function loads
only what it runs: the receipt function never imports Stripe, the webhook never
imports BigQuery. Use-case packages (ingest, renewals, care, churn, invoicing)
never import adapters; an import contract in ``make test`` checks it.

Nothing that moves money has a silent default in the cloud: each builder's
settings refuse what is missing (see the settings classes it reads).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from refrain.clocks import clock_from_env
from refrain.observability import Logger, get_logger
from refrain.settings import CloudSettings
from refrain.topology import CHURN_EXPORT_SUBSCRIPTION

if TYPE_CHECKING:
    from refrain.adapters.bigquery_signals import SnapshotWriter
    from refrain.adapters.firestore_audit import FirestoreAuditLog
    from refrain.adapters.firestore_parking import FirestoreParkingLot
    from refrain.churn.export import ChurnExporter
    from refrain.churn.flush import BatchFlush
    from refrain.domain.clock import Clock
    from refrain.ingest.routes import WebhookSettings
    from refrain.ingest.service import WebhookService
    from refrain.ingest.store_routes import StoreSettings
    from refrain.invoicing import ReceiptService
    from refrain.invoicing.settings import ReceiptSettings
    from refrain.providers.google_play_mapping import PlayPurchases
    from refrain.providers.stripe_events import SessionPrices
    from refrain.renewals.gateway import GatewayCharge, GatewayRouter
    from refrain.renewals.settings import GatewaySettings
    from refrain.renewals.tick import ChargeQueue, TickService
    from refrain.renewals.worker import ChargeWorker

__all__ = [
    "build_account_api",
    "build_account_view",
    "build_care_service",
    "build_care_store",
    "build_charge_worker",
    "build_entitlement_backfill",
    "build_erasure",
    "build_exporter",
    "build_flush",
    "build_gateways",
    "build_parking_lot",
    "build_price_service",
    "build_receipt_service",
    "build_refund_service",
    "build_snapshot_writer",
    "build_stored_requests",
    "build_tick",
    "build_webhook_service",
    "sweep_outbox",
]


# -- the webhook -----------------------------------------------------------------------


def build_webhook_service(
    cloud: CloudSettings | None = None,
    *,
    webhook: WebhookSettings | None = None,
    clock: Clock | None = None,
    crash_before_publish: Callable[[], None] | None = None,
    store: StoreSettings | None = None,
    purchases: PlayPurchases | None = None,
) -> WebhookService:
    """checkout_webhook: every provider route over the Firestore ledger and Pub/Sub."""
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_audit import FirestoreAuditLog
    from refrain.adapters.firestore_ledger import FirestoreLedger
    from refrain.adapters.firestore_outbox import FirestoreOutbox
    from refrain.adapters.firestore_parking import FirestoreParkingLot
    from refrain.adapters.pubsub import build_ordered_publisher
    from refrain.adapters.pubsub_relay import PubSubRelay
    from refrain.domain.catalog import load_catalog
    from refrain.ingest.routes import WebhookSettings, card_routes
    from refrain.ingest.service import WebhookService
    from refrain.ingest.store_routes import StoreSettings, store_routes
    from refrain.outbox import OutboxPublisher

    cloud = cloud or CloudSettings()
    webhook = webhook or WebhookSettings()
    store = store or StoreSettings()
    clock = clock or clock_from_env()
    if purchases is None:
        from refrain.adapters.play_purchases import AndroidPublisherPurchases

        purchases = AndroidPublisherPurchases(
            base_url=store.play_api_base_url, anonymous=store.play_api_anonymous
        )
    db = build_firestore(cloud)
    relay = PubSubRelay(build_ordered_publisher(cloud), crash_before_publish=crash_before_publish)
    log = get_logger("checkout_webhook")
    # Parked events live as long as the stored request they are applied from.
    retention = timedelta(days=webhook.audit_retention_days)
    return WebhookService(
        routes={**card_routes(webhook, _session_prices(webhook)), **store_routes(store, purchases)},
        ledger=FirestoreLedger(db),
        publisher=OutboxPublisher(relay, FirestoreOutbox(db), clock, log),
        audit=FirestoreAuditLog(db, retention=retention),
        parking=FirestoreParkingLot(db, retention=retention),
        catalog=load_catalog(),
        clock=clock.now,
        log=log,
        project=cloud.project,
        store_deadline_s=cloud.firestore_deadline_s,
    )


def _session_prices(webhook: WebhookSettings) -> SessionPrices | None:
    """Stripe's line items of a session, with the library loaded on first use (cold start)."""
    key = webhook.stripe_api_key
    if key is None:
        return None

    @functools.cache
    def reader() -> SessionPrices:
        from refrain.adapters.stripe_checkout_prices import StripeCheckoutPrices

        return StripeCheckoutPrices.create(key.get_secret_value(), webhook.stripe_api_base)

    def read(session_id: str) -> list[dict[str, Any]]:
        return reader()(session_id)

    return read


def build_stored_requests(cloud: CloudSettings | None = None) -> FirestoreAuditLog:
    """The stored webhook requests, for `refrain webhooks replay`."""
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_audit import FirestoreAuditLog

    return FirestoreAuditLog(build_firestore(cloud or CloudSettings()))


def build_parking_lot(cloud: CloudSettings | None = None) -> FirestoreParkingLot:
    """The parked provider events, for `refrain webhooks unmatched`."""
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_parking import FirestoreParkingLot

    return FirestoreParkingLot(build_firestore(cloud or CloudSettings()))


def sweep_outbox(cloud: CloudSettings | None = None, clock: Clock | None = None) -> int:
    """outbox_sweep: publish what a crash left unpublished; how many entries.

    On the system clock by default, as the entries' ``created_at`` is compared with it.
    """
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_outbox import FirestoreOutbox
    from refrain.adapters.pubsub import build_ordered_publisher
    from refrain.adapters.pubsub_relay import PubSubRelay
    from refrain.domain.clock import SystemClock
    from refrain.outbox import OutboxPublisher

    cloud = cloud or CloudSettings()
    clock = clock or SystemClock()
    log = get_logger("outbox_sweep")
    relay = PubSubRelay(build_ordered_publisher(cloud))
    publisher = OutboxPublisher(relay, FirestoreOutbox(build_firestore(cloud)), clock, log)
    swept = publisher.sweep(clock.now())
    log.info("outbox swept", published_entries=swept)
    return swept


# -- renewals --------------------------------------------------------------------------


def build_gateways(settings: GatewaySettings | None = None) -> GatewayRouter:
    """The payment gateways renewals charge through (the sandbox locally)."""
    from refrain.renewals.gateway import GatewayRouter, PaymentGateway
    from refrain.renewals.settings import GatewaySettings

    settings = settings or GatewaySettings()
    if settings.mode == "sandbox":
        from refrain.renewals.sandbox import SandboxGateway

        return GatewayRouter({}, default=SandboxGateway())
    gateways: dict[str, PaymentGateway] = {}
    if settings.stripe_api_key:
        from refrain.adapters.gateway_stripe import StripeGateway

        gateways["stripe"] = StripeGateway.create(
            settings.stripe_api_key.get_secret_value(), settings.stripe_api_base
        )
    if settings.adyen_api_key and settings.adyen_merchant_account:
        from refrain.adapters.gateway_adyen import AdyenGateway

        gateways["adyen"] = AdyenGateway.create(
            settings.adyen_api_key.get_secret_value(),
            settings.adyen_merchant_account,
            checkout_url=settings.adyen_checkout_url,
            live_prefix=settings.live_prefix(),
        )
    return GatewayRouter(gateways)


def build_tick(
    cloud: CloudSettings | None = None,
    *,
    clock: Clock | None = None,
    queue: ChargeQueue | None = None,
    log: Logger | None = None,
) -> TickService:
    """renewal_tick: reads what is due (Firestore, read only), queues charges on Pub/Sub."""
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_renewals import FirestoreDueSource, PubSubChargeQueue
    from refrain.adapters.pubsub import build_publisher
    from refrain.renewals.tick import TickService

    cloud = cloud or CloudSettings()
    if queue is None:
        queue = PubSubChargeQueue(
            build_publisher(cloud), cloud.project, timeout_s=cloud.publish_timeout_s
        )
    return TickService(
        source=FirestoreDueSource(build_firestore(cloud)),
        queue=queue,
        clock=clock or clock_from_env(),
        log=log or get_logger("renewal_trigger"),
    )


def build_charge_worker(
    cloud: CloudSettings | None = None,
    *,
    clock: Clock | None = None,
    gateways: GatewayRouter | None = None,
    log: Logger | None = None,
    crash_after_gateway: Callable[[GatewayCharge], None] | None = None,
) -> ChargeWorker:
    """renewal_charge: claim, charge once through the gateway, record (Firestore + Pub/Sub).

    Raises ``MissingPepper`` outside local/test without one: the dunning experiment's
    unit is the subscriber key, and a retry schedule is never chosen on a guess.
    """
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_ledger import FirestoreLedger
    from refrain.adapters.firestore_outbox import FirestoreOutbox
    from refrain.adapters.firestore_renewals import FirestorePendingCharges
    from refrain.adapters.pubsub import OrderedPublisher, build_publisher
    from refrain.adapters.pubsub_relay import PubSubRelay
    from refrain.churn.pseudonym import Pseudonymizer, load_pepper
    from refrain.experiments.config import load_experiments
    from refrain.outbox import OutboxPublisher
    from refrain.renewals.assignment import RetryAssigner
    from refrain.renewals.worker import ChargeWorker

    cloud = cloud or CloudSettings()
    pepper = load_pepper(local=cloud.is_local)  # before any client opens
    assigner = RetryAssigner(load_experiments().experiments, Pseudonymizer(pepper))
    clock = clock or clock_from_env()
    log = log or get_logger("renewal_trigger")
    db = build_firestore(cloud)
    relay = PubSubRelay(
        OrderedPublisher(build_publisher(cloud), cloud.project, cloud.publish_timeout_s)
    )
    return ChargeWorker(
        ledger=FirestoreLedger(db),
        pending=FirestorePendingCharges(db),
        gateways=gateways or build_gateways(),
        publisher=OutboxPublisher(relay, FirestoreOutbox(db), clock, log),
        clock=clock,
        log=log,
        assigner=assigner,
        crash_after_gateway=crash_after_gateway,
    )


# -- receipts --------------------------------------------------------------------------


def build_receipt_service(
    cloud: CloudSettings | None = None, settings: ReceiptSettings | None = None
) -> ReceiptService:
    """receipt_email: invoices and notices in Firestore, mail through SES."""
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_invoices import (
        FirestoreCustomers,
        FirestoreInvoiceStore,
        FirestoreSendRecords,
    )
    from refrain.adapters.ses_raw import RawSesMailer, build_raw_ses
    from refrain.domain.catalog import load_catalog
    from refrain.invoicing import ReceiptConfig, ReceiptService
    from refrain.invoicing.settings import ReceiptSettings

    cloud = cloud or CloudSettings()
    settings = settings or ReceiptSettings()
    db = build_firestore(cloud)
    return ReceiptService(
        catalog=load_catalog(),
        invoices=FirestoreInvoiceStore(db),
        customers=FirestoreCustomers(db),
        sends=FirestoreSendRecords(db, lease_s=settings.send_lease_s),
        mailer=RawSesMailer(build_raw_ses(cloud), settings.ses_configuration_set),
        config=ReceiptConfig(
            sender=cloud.mail_from,
            sender_name=settings.sender_name,
            account_url=settings.account_url,
            shards=settings.series_shards,
        ),
    )


# -- churn signals ---------------------------------------------------------------------


def build_exporter(cloud: CloudSettings | None = None) -> ChurnExporter:
    """Exporter writing signals and experiment exposures to BigQuery.

    Raises ``MissingPepper`` outside local/test without one.
    """
    from refrain.adapters.bigquery import build_bigquery
    from refrain.adapters.bigquery_exposures import ExposureWriter
    from refrain.adapters.bigquery_signals import SignalWriter
    from refrain.churn.export import ChurnExporter
    from refrain.churn.pseudonym import Pseudonymizer, load_pepper
    from refrain.churn.transform import SignalTransformer
    from refrain.experiments.config import load_experiments
    from refrain.experiments.exposure import ExposureLog, ExposureRecorder

    cloud = cloud or CloudSettings()
    pepper = load_pepper(local=cloud.is_local or bool(cloud.bigquery_endpoint))
    client = build_bigquery(cloud)
    # The declared experiments' exposures ride the same flush (refrain.experiments.exposure).
    exposures = ExposureRecorder(ExposureLog(load_experiments()), ExposureWriter(client))
    return ChurnExporter(SignalTransformer(Pseudonymizer(pepper)), SignalWriter(client), exposures)


def build_flush(
    subscription: str = CHURN_EXPORT_SUBSCRIPTION, cloud: CloudSettings | None = None
) -> BatchFlush:
    """export_flush over ``subscription``; the pepper is checked before any client opens."""
    from refrain.adapters.bigquery_signals import SubscriptionPuller
    from refrain.churn.flush import BatchFlush

    cloud = cloud or CloudSettings()
    exporter = build_exporter(cloud)
    return BatchFlush(exporter, SubscriptionPuller(cloud.project, subscription))


def build_snapshot_writer(cloud: CloudSettings | None = None) -> SnapshotWriter:
    """feature_snapshot and `refrain exports snapshot|backfill`: the daily feature table."""
    from refrain.adapters.bigquery import build_bigquery
    from refrain.adapters.bigquery_signals import SnapshotWriter

    return SnapshotWriter(build_bigquery(cloud or CloudSettings()))


# The customer's side (care, refunds, prices, the account API) lives beside this module;
# it is the same composition root, split only to keep each part readable.
from refrain.bootstrap.customers import (  # noqa: E402
    build_account_api,
    build_account_view,
    build_care_service,
    build_care_store,
    build_entitlement_backfill,
    build_erasure,
    build_price_service,
    build_refund_service,
)
