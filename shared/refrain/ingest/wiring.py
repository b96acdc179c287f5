"""Build the webhook service from the environment: the composition root."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_audit import FirestoreAuditLog
from refrain.adapters.firestore_ledger import FirestoreLedger
from refrain.adapters.pubsub import build_ordered_publisher
from refrain.adapters.pubsub_relay import PubSubRelay
from refrain.clocks import clock_from_env
from refrain.domain.catalog import load_catalog
from refrain.domain.clock import Clock
from refrain.ingest.routes import WebhookSettings, card_routes
from refrain.ingest.service import WebhookService
from refrain.ingest.store_routes import store_routes
from refrain.observability import get_logger
from refrain.settings import CloudSettings


def build_webhook_service(
    cloud: CloudSettings | None = None,
    webhook: WebhookSettings | None = None,
    clock: Clock | None = None,
    crash_before_publish: Callable[[], None] | None = None,
) -> WebhookService:
    cloud = cloud or CloudSettings()
    webhook = webhook or WebhookSettings()
    clock = clock or clock_from_env()
    db = build_firestore(cloud)
    publisher = build_ordered_publisher(cloud)
    return WebhookService(
        routes={**card_routes(webhook), **store_routes()},
        ledger=FirestoreLedger(db),
        relay=PubSubRelay(publisher, crash_before_publish=crash_before_publish),
        audit=FirestoreAuditLog(db, retention=timedelta(days=webhook.audit_retention_days)),
        catalog=load_catalog(),
        clock=clock.now,
        log=get_logger("checkout_webhook"),
        project=cloud.project,
    )
