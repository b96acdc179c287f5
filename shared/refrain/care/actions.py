"""Customer-care actions, applied exactly like a provider event.

An operator's cancel, revert, plan change, pause, resume, a subscriber's consent to a
price change or a grandfathering (exempt from price changes) becomes a domain
input (stream ``customer``) and goes through the ledger: one transaction that
writes the dedupe record / outbox entry and, when the state machine allows it,
the new aggregate. The committed events are then announced by the outbox
publisher (published, then the entry marked); if publishing fails the scheduled
outbox sweep publishes them later, so nothing is lost (invariant 3).

The state machine decides what is allowed: a provider-managed subscription is
refused ("must go through the provider"), a revert without a scheduled
cancellation is illegal, and so on. Nothing here re-implements those rules.

Idempotency: the dedupe key is ``care:{subscription}:{request id}``. An
operator who retries with the same ``request_id`` gets the first outcome back
(``duplicate``), never a second application.

An upgrade with something to prorate is billed before it applies
(refrain.domain.upgrades): the ledger claims its charge in the same transaction, and
the charge goes to the renewal worker's queue, which makes it through the gateway with
the charge's key and records the answer. A retry with the same request id while the
upgrade still waits sends it again (the worker charges a claimed key at most once).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from refrain.care.preview import PlanChangePreview, preview_plan_change
from refrain.domain.catalog import Catalog, load_catalog
from refrain.domain.clock import Clock
from refrain.domain.errors import InvalidInput, PlanNotOffered, UnknownMarket, UnknownPlan
from refrain.domain.events import DomainEvent
from refrain.domain.inputs import (
    CancelRequested,
    CancelReverted,
    GrandfatherSet,
    Input,
    PauseRequested,
    PlanChangeRequested,
    PriceConsentGiven,
    ResumeRequested,
)
from refrain.domain.outcome import ChargeRequest
from refrain.domain.subscription import Subscription
from refrain.ledger import Ledger, LedgerCommand, LedgerStatus
from refrain.observability import Logger, get_logger
from refrain.outbox import OutboxPublisher
from refrain.renewals.messages import ChargeMessage
from refrain.renewals.tick import ChargeQueue

SOURCE = "care"


class CareError(Exception):
    """A request refused before anything is written (unknown subscription, plan, bad time)."""


class Action(StrEnum):
    CANCEL = "cancel"
    REVERT = "revert"
    CHANGE_PLAN = "change_plan"
    PAUSE = "pause"
    RESUME = "resume"
    CONSENT_PRICE = "consent_price"  # the subscriber agreed to the pending price change
    GRANDFATHER = "grandfather"  # exempt from price changes (exempt=False lifts it)


@dataclass(frozen=True, slots=True)
class CareRequest:
    action: Action
    subscription_id: str
    request_id: str
    reason: str | None = None
    plan: str | None = None
    resume_at: datetime | None = None
    exempt: bool = True  # GRANDFATHER: set (True) or lift (False) the exemption
    change_id: str | None = None  # CONSENT_PRICE: the price change agreed to (None: pending one)


class CareStore(Protocol):
    """What the service reads outside the ledger's transaction."""

    def subscription(self, subscription_id: str) -> Subscription | None: ...

    def entry_status(self, dedupe_key: str) -> str | None:
        """The recorded status of a ledger entry (for an operator's retry), if any."""
        ...


@dataclass(frozen=True, slots=True)
class CareResult:
    request_id: str
    dedupe_key: str
    status: LedgerStatus
    reason: str | None
    subscription: Subscription | None
    events: tuple[DomainEvent, ...] = ()
    charge: ChargeRequest | None = None
    published: bool = False
    previous_status: str | None = None  # for a duplicate: what the first request did
    # An upgrade's claimed charge: queued for the renewal worker (None: no charge waits).
    # False: recorded but not queued (Pub/Sub failed); the same request id again queues it.
    charge_queued: bool | None = None

    @property
    def ok(self) -> bool:
        """Applied now, or applied by an earlier request with the same id."""
        if self.status is LedgerStatus.DUPLICATE:
            return self.previous_status == LedgerStatus.APPLIED.value
        return self.status is LedgerStatus.APPLIED


def new_request_id() -> str:
    return uuid.uuid4().hex


def dedupe_key(subscription_id: str, request_id: str) -> str:
    """The ledger's dedupe key, also the outbox entry id (storage encodes it, invariant 11)."""
    return f"care:{subscription_id}:{request_id}"


def build_input(request: CareRequest, sub: Subscription, now: datetime, catalog: Catalog) -> Input:
    """The domain input for one request; catalog and time errors become CareError."""
    input_id = f"care:{request.request_id}"
    try:
        match request.action:
            case Action.CANCEL:
                return CancelRequested(input_id=input_id, occurred_at=now, reason=request.reason)
            case Action.REVERT:
                return CancelReverted(input_id=input_id, occurred_at=now)
            case Action.CHANGE_PLAN:
                if not request.plan:
                    raise CareError("change-plan needs a plan id")
                offer = catalog.offer(request.plan, sub.market)
                return PlanChangeRequested(
                    input_id=input_id,
                    occurred_at=now,
                    new_plan=offer.plan.id,
                    new_plan_rank=offer.plan.rank,
                    new_interval_months=offer.plan.interval.months,
                    new_price=offer.price,
                )
            case Action.PAUSE:
                return PauseRequested(
                    input_id=input_id, occurred_at=now, resume_at=request.resume_at
                )
            case Action.RESUME:
                return ResumeRequested(input_id=input_id, occurred_at=now)
            case Action.CONSENT_PRICE:
                return PriceConsentGiven(
                    input_id=input_id, occurred_at=now, change_id=request.change_id
                )
            case Action.GRANDFATHER:
                return GrandfatherSet(input_id=input_id, occurred_at=now, exempt=request.exempt)
    except UnknownPlan as exc:
        raise CareError(f"unknown plan {request.plan!r}") from exc
    except (PlanNotOffered, UnknownMarket) as exc:
        raise CareError(f"plan {request.plan!r} is not offered in market {sub.market}") from exc
    except InvalidInput as exc:
        raise CareError(str(exc)) from exc
    raise CareError(f"unknown action {request.action!r}")  # pragma: no cover - exhaustive


def preview(
    request: CareRequest, store: CareStore, clock: Clock, catalog: Catalog
) -> PlanChangePreview:
    """What ``request`` (a plan change) would charge and when, reading only."""
    if request.action is not Action.CHANGE_PLAN:
        raise CareError("only a plan change has a preview")
    sub = store.subscription(request.subscription_id)
    if sub is None:
        raise CareError(f"no subscription {request.subscription_id!r}")
    now = clock.now()
    return preview_plan_change(sub, build_input(request, sub, now, catalog), now, catalog)


@dataclass
class CareService:
    ledger: Ledger
    store: CareStore
    publisher: OutboxPublisher
    clock: Clock
    catalog: Catalog = field(default_factory=load_catalog)
    log: Logger = field(default_factory=lambda: get_logger("care"))
    charges: ChargeQueue | None = None  # where an upgrade's claimed charge goes to be made

    def preview(self, request: CareRequest) -> PlanChangePreview:
        """A plan change's amounts, tax and dates, as :meth:`perform` would apply them now."""
        return preview(request, self.store, self.clock, self.catalog)

    def perform(self, request: CareRequest) -> CareResult:
        sid = request.subscription_id
        sub = self.store.subscription(sid)
        if sub is None:
            raise CareError(f"no subscription {sid!r}")
        now = self.clock.now()
        inp = build_input(request, sub, now, self.catalog)
        key = dedupe_key(sid, request.request_id)
        billed = request.action is Action.CHANGE_PLAN
        result = self.ledger.apply(
            LedgerCommand(
                dedupe_key=key, subscription_id=sid, input=inp, now=now, source=SOURCE,
                claim_charge=billed,
            )
        )  # fmt: skip
        if result.status is LedgerStatus.NO_SUBSCRIPTION:  # deleted between read and apply
            raise CareError(f"no subscription {sid!r}")
        previous = None
        if result.status is LedgerStatus.DUPLICATE:
            previous = self.store.entry_status(key)
        published = self.publisher.announce(result.outbox_id, result.events, log=self.log)
        charge, queued = result.charge, None
        if billed:
            queued = self._send_upgrade_charge(sid, result.subscription or sub, charge)
        self.log.bind(subscription_id=sid).info(
            "care action",
            action=request.action.value,
            request_id=request.request_id,
            status=result.status.value,
            reason=result.reason,
            events=[e.type.value for e in result.events],
        )
        return CareResult(
            request_id=request.request_id,
            dedupe_key=key,
            status=result.status,
            reason=result.reason,
            subscription=result.subscription or sub,
            events=result.events,
            charge=charge,
            published=published,
            previous_status=previous,
            charge_queued=queued,
        )

    def _send_upgrade_charge(
        self, sid: str, sub: Subscription, charge: ChargeRequest | None
    ) -> bool | None:
        """Queue the upgrade's claimed charge (again, on a retry while it still waits).

        The upgrade is already recorded: a queue that fails leaves it waiting, and says
        so, rather than raising after the commit (the same request id queues it again).
        """
        key = charge.idempotency_key if charge is not None else None
        if key is None and sub.upgrade is not None:
            key = sub.upgrade.charge_id  # a retried request: the upgrade it made still waits
        if key is None:
            return None
        if self.charges is None:
            raise CareError("no charge queue: an upgrade cannot be billed from here")
        try:
            self.charges.send([ChargeMessage.for_upgrade(sid, key)])
        except Exception as exc:
            self.log.bind(subscription_id=sid).error(
                "upgrade charge not queued; retry the request with the same id",
                charge_id=key, error=type(exc).__name__,
            )  # fmt: skip
            return False
        return True
