"""The composition root, customer's side: care actions, refunds, price changes and the
account API, each built over the same ledger, outbox and gateways as the rest
(refrain.bootstrap re-exports every builder here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from refrain.clocks import clock_from_env
from refrain.observability import Logger, get_logger
from refrain.settings import CloudSettings

if TYPE_CHECKING:
    from refrain.account.backfill import EntitlementBackfill
    from refrain.account.documents import AccountDocuments
    from refrain.account.page import AccountPage
    from refrain.account.payment_method import CardSetup
    from refrain.account.routes import AccountApi
    from refrain.account.service import AccountService
    from refrain.account.settings import AccountSettings
    from refrain.adapters.firestore_care import FirestoreCareStore
    from refrain.care.actions import CareService
    from refrain.care.refunds import RefundService
    from refrain.domain.clock import Clock
    from refrain.ledger import Ledger
    from refrain.outbox import OutboxPublisher
    from refrain.pricing.service import PriceChangeService
    from refrain.privacy.erasure import ErasureService
    from refrain.renewals.gateway import GatewayRouter
    from refrain.renewals.settings import GatewaySettings


# -- customer care ---------------------------------------------------------------------


def build_care_store(cloud: CloudSettings | None = None) -> FirestoreCareStore:
    """Subscriptions and their history, for care and `refrain subscriptions show`."""
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_care import FirestoreCareStore

    return FirestoreCareStore(build_firestore(cloud or CloudSettings()))


def build_care_service(
    cloud: CloudSettings | None = None, clock: Clock | None = None, log: Logger | None = None
) -> CareService:
    """Care actions through the same ledger, transaction and outbox as provider events."""
    from refrain.adapters.firestore_care import FirestoreCareStore
    from refrain.adapters.firestore_renewals import PubSubChargeQueue
    from refrain.adapters.pubsub import build_publisher
    from refrain.care.actions import CareService

    cloud, clock, log = (
        cloud or CloudSettings(),
        clock or clock_from_env(),
        log or get_logger("care"),
    )
    db, ledger, publisher = _ledger_parts(cloud, clock, log)
    charges = PubSubChargeQueue(
        build_publisher(cloud), cloud.project, timeout_s=cloud.publish_timeout_s
    )
    return CareService(ledger, FirestoreCareStore(db), publisher, clock, log=log, charges=charges)


def _ledger_parts(
    cloud: CloudSettings, clock: Clock, log: Logger
) -> tuple[Any, Ledger, OutboxPublisher]:
    """Firestore, its ledger, and the outbox publisher that announces what it commits."""
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_ledger import FirestoreLedger
    from refrain.adapters.firestore_outbox import FirestoreOutbox
    from refrain.adapters.pubsub import build_ordered_publisher
    from refrain.adapters.pubsub_relay import PubSubRelay
    from refrain.outbox import OutboxPublisher

    db = build_firestore(cloud)
    relay = PubSubRelay(build_ordered_publisher(cloud))
    return db, FirestoreLedger(db), OutboxPublisher(relay, FirestoreOutbox(db), clock, log)


def build_refund_service(
    cloud: CloudSettings | None = None,
    clock: Clock | None = None,
    log: Logger | None = None,
    gateways: GatewayRouter | None = None,
) -> RefundService:
    """Operator refunds: reserved, refunded through the payment's gateway, credited once."""
    from refrain.adapters.firestore_refunds import FirestoreRefundBook
    from refrain.care.refunds import RefundService

    cloud, clock, log = (
        cloud or CloudSettings(),
        clock or clock_from_env(),
        log or get_logger("care"),
    )
    db, ledger, publisher = _ledger_parts(cloud, clock, log)
    return RefundService(
        FirestoreRefundBook(db), gateways or _gateways(), ledger, publisher, clock, log
    )


def build_price_service(
    cloud: CloudSettings | None = None, clock: Clock | None = None, log: Logger | None = None
) -> PriceChangeService:
    """Scheduled price versions and their notices, through the ledger and outbox."""
    from refrain.adapters.firestore_prices import FirestorePriceChanges, FirestoreSubscribers
    from refrain.pricing.service import PriceChangeService

    cloud, clock = cloud or CloudSettings(), clock or clock_from_env()
    log = log or get_logger("pricing")
    db, ledger, publisher = _ledger_parts(cloud, clock, log)
    return PriceChangeService(
        FirestorePriceChanges(db), ledger, FirestoreSubscribers(db), publisher, clock, log=log
    )


# -- the account API -------------------------------------------------------------------


def build_account_api(
    cloud: CloudSettings | None = None,
    settings: AccountSettings | None = None,
    clock: Clock | None = None,
    auth_request: Any = None,
    gateways: GatewaySettings | None = None,
) -> AccountApi:
    """account_api: entitlement (one read), subscriptions, care actions through the ledger,
    invoices and their PDFs, the data export."""
    import os

    from refrain.account.auth import build_verifier
    from refrain.account.documents import AccountDocuments
    from refrain.account.payment_method import PaymentMethodSessions
    from refrain.account.ratelimit import TokenBucket
    from refrain.account.routes import AccountApi
    from refrain.account.service import AccountService
    from refrain.account.settings import AccountSettings
    from refrain.account.view import AccountView
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_account_documents import FirestoreAccountDocuments
    from refrain.adapters.firestore_accounts import FirestoreAccounts, FirestoreIdempotencyKeys
    from refrain.adapters.firestore_erasure import FirestoreErasure
    from refrain.config_contract import is_local
    from refrain.domain.catalog import load_catalog
    from refrain.privacy.erasure import ErasureService

    cloud = cloud or CloudSettings()
    settings = settings or AccountSettings()
    clock = clock or clock_from_env()
    log = get_logger("account_api")
    local = is_local(os.environ)
    auth = build_verifier(settings, local=local, request=auth_request)
    db = build_firestore(cloud)
    keys = FirestoreIdempotencyKeys(db)
    service = AccountService(
        FirestoreAccounts(db), build_care_service(cloud, clock, log), keys,
        clock, max_age_s=settings.entitlement_max_age_s,
        erasure=ErasureService(FirestoreErasure(db), clock, log),
    )  # fmt: skip
    cards = PaymentMethodSessions(service, keys, card_setups(settings, gateways), clock)
    catalog = load_catalog()
    documents = AccountDocuments(
        FirestoreAccountDocuments(db), clock,
        market_locale=lambda market: catalog.market(market).default_locale,
    )  # fmt: skip
    return AccountApi(
        service, auth, settings.allowed_origins,
        per_ip=TokenBucket(settings.ip_rate_per_s, settings.ip_burst),
        per_account=TokenBucket(settings.account_rate_per_s, settings.account_burst),
        log=log, trusted_hops=settings.trusted_proxy_hops, documents=documents, cards=cards,
        view=AccountView(service, documents, catalog), page=_account_page(settings, local),
    )  # fmt: skip


def card_setups(
    settings: AccountSettings, gateways: GatewaySettings | None = None
) -> dict[str, CardSetup]:
    """The providers whose keys are set (STRIPE_API_KEY; ADYEN_API_KEY and merchant account).

    A provider without keys has no card sessions: its subscribers get a 503 and the log
    names the missing variable; in the cloud refrain.config_contract refuses to start
    account_api with neither key.
    """
    from refrain.renewals.settings import GatewaySettings

    gateways = gateways or GatewaySettings()
    found: dict[str, CardSetup] = {}
    if gateways.stripe_api_key:
        from refrain.adapters.card_setup_stripe import StripeCardSetup

        found["stripe"] = StripeCardSetup.create(
            gateways.stripe_api_key.get_secret_value(), gateways.stripe_api_base
        )
    if gateways.adyen_api_key and gateways.adyen_merchant_account:
        from refrain.adapters.card_setup_adyen import AdyenCardSetup

        found["adyen"] = AdyenCardSetup.create(
            gateways.adyen_api_key.get_secret_value(), gateways.adyen_merchant_account,
            settings.card_return_url, checkout_url=gateways.adyen_checkout_url,
            live_prefix=gateways.live_prefix(),
        )  # fmt: skip
    return found


def _account_page(settings: AccountSettings, local: bool) -> AccountPage:
    """The page signs in at the Auth emulator only on the local stack (any key works there)."""
    from refrain.account.page import AccountPage

    emulator = settings.auth_emulator_host if local else None
    key = settings.web_api_key or ("local-emulator" if emulator else "")
    return AccountPage(api_key=key, emulator_host=emulator)


def build_account_view(
    cloud: CloudSettings | None = None, clock: Clock | None = None
) -> tuple[AccountService, AccountDocuments]:
    """What the account API shows a subscriber, for customer service (`refrain accounts show`)."""
    from refrain.account.documents import AccountDocuments
    from refrain.account.service import AccountService
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_account_documents import FirestoreAccountDocuments
    from refrain.adapters.firestore_accounts import FirestoreAccounts, FirestoreIdempotencyKeys

    cloud, clock = cloud or CloudSettings(), clock or clock_from_env()
    db = build_firestore(cloud)
    care = build_care_service(cloud, clock, get_logger("care"))
    service = AccountService(FirestoreAccounts(db), care, FirestoreIdempotencyKeys(db), clock)
    return service, AccountDocuments(FirestoreAccountDocuments(db), clock)


def build_entitlement_backfill(
    cloud: CloudSettings | None = None, batch: int = 200
) -> EntitlementBackfill:
    """`refrain accounts backfill-entitlements`: entitlement entries recomputed from the
    subscriptions with the ledger's own function (refrain.account.backfill)."""
    from refrain.account.backfill import EntitlementBackfill
    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_backfill import FirestoreBackfillStore

    db = build_firestore(cloud or CloudSettings())
    return EntitlementBackfill(FirestoreBackfillStore(db), batch=batch)


def build_erasure(cloud: CloudSettings | None = None, clock: Clock | None = None) -> ErasureService:
    """GDPR art. 17 for operators (`refrain privacy erase`): the account API's service."""
    import sys

    from refrain.adapters.firestore import build_firestore
    from refrain.adapters.firestore_erasure import FirestoreErasure
    from refrain.privacy.erasure import ErasureService

    cloud, clock = cloud or CloudSettings(), clock or clock_from_env()
    log = get_logger("privacy", sys.stderr)  # stdout is the command's answer (--json)
    return ErasureService(FirestoreErasure(build_firestore(cloud)), clock, log)


def _gateways() -> GatewayRouter:
    from refrain.bootstrap import build_gateways

    return build_gateways()
