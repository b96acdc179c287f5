"""Build the tick and the charge worker from the environment: the composition root.

``REFRAIN_PAYMENT_GATEWAY``: ``sandbox`` (default; every provider charges through
the in-process :class:`SandboxGateway`, which is what the local stack and the
demo use) or ``providers`` (Stripe for ``stripe`` subscriptions, Adyen for
``adyen``; keys from ``STRIPE_API_KEY``, ``ADYEN_API_KEY``,
``ADYEN_MERCHANT_ACCOUNT``; ``STRIPE_API_BASE`` / ``ADYEN_CHECKOUT_URL``
only to point them at a test server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from refrain.clocks import clock_from_env
from refrain.domain.clock import Clock
from refrain.observability import Logger, get_logger
from refrain.renewals.gateway import GatewayCharge, GatewayRouter, PaymentGateway
from refrain.renewals.sandbox import SandboxGateway
from refrain.renewals.tick import ChargeQueue, TickService
from refrain.renewals.worker import ChargeWorker
from refrain.settings import CloudSettings


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    mode: Literal["sandbox", "providers"] = Field(
        default="sandbox", validation_alias="REFRAIN_PAYMENT_GATEWAY"
    )
    stripe_api_key: str | None = Field(default=None, validation_alias="STRIPE_API_KEY")
    stripe_api_base: str | None = Field(default=None, validation_alias="STRIPE_API_BASE")
    adyen_api_key: str | None = Field(default=None, validation_alias="ADYEN_API_KEY")
    adyen_merchant_account: str | None = Field(
        default=None, validation_alias="ADYEN_MERCHANT_ACCOUNT"
    )
    adyen_checkout_url: str | None = Field(default=None, validation_alias="ADYEN_CHECKOUT_URL")
    adyen_live_prefix: str | None = Field(default=None, validation_alias="ADYEN_LIVE_PREFIX")


def build_gateways(settings: GatewaySettings | None = None) -> GatewayRouter:
    settings = settings or GatewaySettings()
    if settings.mode == "sandbox":
        return GatewayRouter({}, default=SandboxGateway())
    gateways: dict[str, PaymentGateway] = {}
    if settings.stripe_api_key:
        from refrain.adapters.gateway_stripe import StripeGateway

        gateways["stripe"] = StripeGateway.create(settings.stripe_api_key, settings.stripe_api_base)
    if settings.adyen_api_key and settings.adyen_merchant_account:
        from refrain.adapters.gateway_adyen import AdyenGateway

        gateways["adyen"] = AdyenGateway.create(
            settings.adyen_api_key,
            settings.adyen_merchant_account,
            checkout_url=settings.adyen_checkout_url,
            live_prefix=settings.adyen_live_prefix,
        )
    return GatewayRouter(gateways)


@dataclass
class Renewals:
    tick: TickService
    worker: ChargeWorker


def build_renewals(
    cloud: CloudSettings | None = None,
    *,
    clock: Clock | None = None,
    gateways: GatewayRouter | None = None,
    queue: ChargeQueue | None = None,
    log: Logger | None = None,
    crash_after_gateway: Callable[[GatewayCharge], None] | None = None,
) -> Renewals:
    """Firestore + Pub/Sub adapters; ``queue`` defaults to the `renewal-charges` topic."""
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_ledger import FirestoreLedger
    from refrain.adapters.firestore_renewals import (
        FirestoreDueSource,
        FirestorePendingCharges,
        OutboxAnnouncer,
        PubSubChargeQueue,
    )
    from refrain.adapters.pubsub import OrderedPublisher, build_publisher
    from refrain.adapters.pubsub_relay import PubSubRelay

    cloud = cloud or CloudSettings()
    clock = clock or clock_from_env()
    log = log or get_logger("renewal_trigger")
    db = build_firestore(cloud)
    publisher = build_publisher(cloud)
    relay = PubSubRelay(OrderedPublisher(publisher, cloud.project, cloud.publish_timeout_s))
    tick = TickService(
        source=FirestoreDueSource(db),
        queue=queue
        or PubSubChargeQueue(publisher, cloud.project, timeout_s=cloud.publish_timeout_s),
        clock=clock,
        log=log,
    )
    worker = ChargeWorker(
        ledger=FirestoreLedger(db),
        pending=FirestorePendingCharges(db),
        gateways=gateways or build_gateways(),
        announcer=OutboxAnnouncer(relay, db, clock, log),
        clock=clock,
        log=log,
        crash_after_gateway=crash_after_gateway,
    )
    return Renewals(tick, worker)
