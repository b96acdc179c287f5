"""The webhook service: verify, store the raw request, apply in one transaction, publish.

Order of work for every request (dj-stripe's ingestion discipline):
1. refuse what is not ours before reading it: route, method, size, media type;
2. verify with the provider's own scheme, before parsing anything;
3. store the verified raw request (the audit record) so a failure is inspectable
   and replayable;
4. normalise into provider-neutral inputs and apply each through the ledger
   (dedupe + state machine + outbox in one Firestore transaction);
5. publish the outbox entry, then record the outcome;
6. what cannot be applied yet is parked (see refrain.ingest.parking) and applied
   when what it waits for appears: at once when this request created the
   subscription, otherwise by :meth:`WebhookService.sweep_parked`.

Tracing: every line written while handling a request carries its Cloud Logging
trace (X-Cloud-Trace-Context / traceparent), through a logger bound per request
and passed down (never stored on the service: one instance serves concurrent
requests). The trace is stored with the outbox entry and published as the
``trace`` attribute, so the consumers' lines join the same trace.

Status codes: 2xx only after a durable commit: applied, duplicate, stale,
illegal, ignored, parked or unmatched (every authentic notification is
acknowledged once it is stored; correctness never waits for a provider retry);
4xx for requests that are not authentic or not readable, which store nothing;
5xx for anything transient, so the provider retries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from refrain.domain.catalog import Catalog
from refrain.domain.errors import DomainError
from refrain.domain.subscription import Subscription
from refrain.ingest.http import MAX_BODY_BYTES, HttpResponse, Route, read_body, route_for
from refrain.ingest.model import MappingError, ProviderEvent
from refrain.ingest.parking import (
    PARKING_SWEPT,
    ParkedEvent,
    ParkingLot,
    kind_of,
    next_check,
    waits_for_ref,
    waits_for_subscription,
)
from refrain.ingest.ports import AuditLog, ParkingReport, Processed
from refrain.ingest.rejections import Rejection, Unreadable
from refrain.ledger import Ledger, LedgerCommand, LedgerResult, LedgerStatus
from refrain.observability import Logger, trace_from_headers
from refrain.outbox import OutboxPublisher


@dataclass
class WebhookService:
    routes: Mapping[str, Route]
    ledger: Ledger
    # Publishes only: the entries it published are marked with the audit outcome, one commit.
    publisher: OutboxPublisher
    audit: AuditLog
    parking: ParkingLot
    catalog: Catalog
    clock: Callable[[], datetime]
    log: Logger
    max_body: int = MAX_BODY_BYTES
    # Names the request's trace (projects/{project}/traces/{id}); None: lines carry no trace.
    project: str | None = None
    # The store's per-call deadline (None: no bound). A failed apply that spent two
    # deadlines met a store that is not answering (each call waited its deadline out): a
    # parking would wait as long again, past the provider's ~10 s, so the answer is a 503
    # at once and the stored request waits for the provider's retry. Contention, even a
    # lock wait that ran out once, fails sooner and is parked (invariant 9).
    store_deadline_s: float | None = None
    monotonic: Callable[[], float] = time.monotonic

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None
    ) -> HttpResponse:
        started = time.perf_counter()
        log = self.request_log(headers)
        provider = self.routes[path].provider if path in self.routes else None
        size = len(body or b"")
        try:
            route = route_for(self.routes, method, path, headers)
            raw = read_body(headers, body, self.max_body)
            payload = route.verify(raw, headers)
        except Exception as exc:  # nothing unauthenticated may answer 5xx (docs/SECURITY.md)
            rejection = exc if isinstance(exc, Rejection) else Unreadable(type(exc).__name__)
            log.warning(
                "webhook rejected",
                provider=provider,
                outcome=rejection.reason,
                reason=rejection.detail,
                size=size,
            )
            return HttpResponse(rejection.status, json.dumps({"error": rejection.reason}))
        try:
            audit_id = self.audit.record(route.provider, dict(headers), raw, self.clock())
        except Exception as exc:
            return self._transient(route.provider, "audit", exc, log)
        response = self.process(route, payload, audit_id, log)
        log.info(
            "webhook answered",
            provider=route.provider,
            status=response.status,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return response

    def request_log(self, headers: Mapping[str, str]) -> Logger:
        """The service's logger bound to this request's trace (if it has one)."""
        if self.project is None:
            return self.log
        return self.log.bind(trace=trace_from_headers(headers, self.project))

    def replay(self, provider: str, body: bytes, audit_id: str) -> HttpResponse:
        """Process a stored request again; it was verified when it was stored."""
        return self._replay(provider, body, audit_id, self.log).response

    def process(
        self, route: Route, payload: Any, audit_id: str, log: Logger | None = None
    ) -> HttpResponse:
        """Normalise and apply a verified, stored request.

        ``log`` is the request's bound logger; its trace also goes with the outbox entry.
        """
        return self._process(route, payload, audit_id, log or self.log).response

    def sweep_parked(self, now: datetime | None = None, limit: int = 200) -> ParkingReport:
        """Look again at parked events whose check is due: apply what can be, reschedule the rest.

        Run by the scheduled outbox sweep; covers references that appeared without
        creating a subscription (a payment indexed after its refund was parked) and a
        crash between a subscription's creation and the wake-up of what waited for it.
        """
        now = now or self.clock()
        due = self.parking.due(now, limit)
        applied = waiting = expired = 0
        for audit_id, parked in _by_request(due).items():
            processed = self._replay_stored(audit_id, self.log)
            if processed is None:  # the raw request outlived its retention: nothing to apply
                for event in parked:
                    self.parking.release(event.key)
                expired += len(parked)
                continue
            statuses = processed.statuses
            for event in parked:
                if event.key == _request_key(audit_id):  # a whole request after a failure
                    not_yet = processed.response.status >= 500
                else:
                    not_yet = statuses.get(event.key, LedgerStatus.NO_SUBSCRIPTION) is (
                        LedgerStatus.NO_SUBSCRIPTION
                    )
                if not_yet:
                    self.parking.reschedule(event, now)
                    waiting += 1
                else:
                    applied += 1
        oldest = self.parking.listing(None, 1)
        age = (now - oldest[0].parked_at).total_seconds() if oldest else None
        report = ParkingReport(len(due), applied, waiting, expired, age)
        self.log.info(
            "parked events swept",
            outcome=PARKING_SWEPT,
            due=report.due,
            applied=report.applied,
            waiting=report.waiting,
            expired=report.expired,
            oldest_parked_age_s=None if age is None else round(age),
        )
        return report

    def _replay_stored(self, audit_id: str, log: Logger) -> Processed | None:
        """Apply a stored request again; None when it is no longer stored."""
        stored = self.audit.load(audit_id)
        if stored is None:
            return None
        return self._replay(stored.provider, stored.body, audit_id, log)

    def _replay(self, provider: str, body: bytes, audit_id: str, log: Logger) -> Processed:
        route = next(r for r in self.routes.values() if r.provider == provider)
        try:
            payload = route.parse(body)
        except Rejection as rejection:
            answer = HttpResponse(rejection.status, json.dumps({"error": rejection.reason}))
            return Processed(answer)
        return self._process(route, payload, audit_id, log, replaying=True)

    def _process(
        self, route: Route, payload: Any, audit_id: str, log: Logger, *, replaying: bool = False
    ) -> Processed:
        published: list[str] = []
        statuses: dict[str, LedgerStatus] = {}
        started = self.monotonic()
        try:
            try:
                events = route.normalise(payload, self.catalog)
                for event in events:
                    statuses[event.dedupe_key] = self._apply(
                        event, audit_id, published, log, replaying
                    )
            except (MappingError, DomainError) as exc:
                # Authentic but not applicable as it is (a price or plan we do not map, a
                # shape we cannot read): kept for an operator, acknowledged. A request parked
                # for a retry that now reads as unmatched waits for the operator instead.
                if replaying:
                    self.parking.release(_request_key(audit_id))
                self.parking.park(
                    ParkedEvent(
                        key=_request_key(audit_id),
                        provider=route.provider,
                        audit_id=audit_id,
                        reason=str(exc)[:500],
                        parked_at=self.clock(),
                        event_type=kind_of(payload),
                    )
                )
                self._finish(audit_id, "unmatched", str(exc), published, log)
                log.warning(
                    "webhook unmatched; parked for an operator",
                    provider=route.provider,
                    outcome="unmatched",
                    reason=str(exc),
                    audit_id=audit_id,
                )
                return Processed(HttpResponse(200, route.accepted_body, route.accepted_type))
            if replaying:
                self.parking.release(_request_key(audit_id))
        except Exception as exc:
            if replaying:
                self._finish(audit_id, "failed", type(exc).__name__, published, log)
                return Processed(self._transient(route.provider, "replay", exc, log), statuses)
            if not self._time_left_for_a_write(started):
                # Left as "received": the provider's retry (or a replay) applies it once.
                return Processed(self._transient(route.provider, "apply", exc, log), statuses)
            answer = self._retry_later(route, payload, audit_id, exc, log)
            if answer.status < 500:  # parked: the store answers, so the outcome is kept too
                self._finish(audit_id, "failed", type(exc).__name__, published, log)
            return Processed(answer, statuses)
        outcome = ",".join(sorted({_outcome(s) for s in statuses.values()})) or "empty"
        self._finish(audit_id, outcome, None, published, log)
        return Processed(HttpResponse(200, route.accepted_body, route.accepted_type), statuses)

    # -- steps -----------------------------------------------------------------

    def _apply(
        self,
        event: ProviderEvent,
        audit_id: str,
        published: list[str],
        log: Logger,
        replaying: bool = False,
    ) -> LedgerStatus:
        sub_id = self._subscription_id(event)
        draft = self._draft(event, sub_id)
        result = self.ledger.apply(
            LedgerCommand(
                dedupe_key=event.dedupe_key,
                subscription_id=sub_id,
                input=event.input,
                now=self.clock(),
                source=event.provider,
                draft=draft,
                customer=event.customer,
                account_id=event.account_id or (draft.account_id if draft else None),
                refs=event.refs,
                note=event.ignored,
                audit_id=audit_id,
                trace=log.trace,
            )
        )
        announced = self.publisher.announce(
            result.outbox_id,
            result.events,
            log.trace,
            mark=False,
            log=log,
            provider=event.provider,
            provider_event_id=event.event_id,
        )
        if announced and result.outbox_id:
            published.append(result.outbox_id)
        if result.status is LedgerStatus.NO_SUBSCRIPTION:
            self._park(event, audit_id, result)
        elif replaying:
            self.parking.release(event.dedupe_key)
        log.info(
            "provider event",
            provider=event.provider,
            provider_event_id=event.event_id,
            event_type=event.event_type,
            subscription_id=sub_id,
            outcome=_outcome(result.status),
            reason=result.reason,
            domain_events=[e.type.value for e in result.events],
        )
        if result.created and sub_id is not None:
            self._wake(sub_id, event.refs, log)
        return result.status

    def _park(self, event: ProviderEvent, audit_id: str, result: LedgerResult) -> None:
        """Keep an event whose subscription is not known yet; the sweep looks again soon."""
        subject = event.subject
        waits_for = None
        if subject is not None and subject.subscription_id:
            waits_for = waits_for_subscription(subject.subscription_id)
        elif subject is not None and subject.ref:
            waits_for = waits_for_ref(subject.ref)
        now = self.clock()
        self.parking.park(
            ParkedEvent(
                key=event.dedupe_key,
                provider=event.provider,
                audit_id=audit_id,
                reason=result.reason or "subscription not known yet",
                parked_at=now,
                waits_for=waits_for,
                event_type=event.event_type,
                occurred_at=event.occurred_at,
                next_check_at=None if waits_for is None else next_check(now, 0),
            )
        )

    def _wake(self, subscription_id: str, refs: Sequence[str], log: Logger) -> None:
        """Apply, in provider order, what was parked waiting for what was just created."""
        keys = [waits_for_subscription(subscription_id), *(waits_for_ref(r) for r in refs)]
        try:
            for audit_id, parked in _by_request(self.parking.waiting_for(keys)).items():
                woken = [e.key for e in parked]
                log.info("parked events woken", outcome="woken", audit_id=audit_id, keys=woken)
                self._replay_stored(
                    audit_id, log
                )  # expired with its request: the sweep releases it
        except Exception as exc:  # the creation is committed; the sweep applies them later
            log.warning("wake-up deferred to the parking sweep", error=type(exc).__name__)

    def _subscription_id(self, event: ProviderEvent) -> str | None:
        if event.subject is None:
            return None
        if event.subject.subscription_id:
            return event.subject.subscription_id
        if event.subject.ref:
            return self.ledger.resolve_ref(event.subject.ref)
        return None

    def _draft(self, event: ProviderEvent, sub_id: str | None) -> Subscription | None:
        if event.draft is None or sub_id is None:
            return None
        d = event.draft
        offer = self.catalog.offer(d.plan, d.market)
        return Subscription.new(
            subscription_id=sub_id,
            account_id=d.account_id,
            provider=d.provider,
            billing_mode=d.billing_mode,
            plan=offer.plan.id,
            plan_rank=offer.plan.rank,
            interval_months=offer.plan.interval.months,
            market=offer.market.code,
            price=offer.price,
            created_at=event.occurred_at,
            payment_method_ref=d.payment_method_ref,
        )

    def _finish(
        self, audit_id: str, outcome: str, detail: str | None, published: list[str], log: Logger
    ) -> None:
        try:
            self.audit.finish(audit_id, outcome, detail, published)
        except Exception as exc:
            # The outcome is also in the log; the sweep re-publishes unmarked entries harmlessly.
            log.warning("audit outcome not stored", error=type(exc).__name__)

    def _time_left_for_a_write(self, started: float) -> bool:
        if self.store_deadline_s is None:
            return True
        return self.monotonic() - started < 2 * self.store_deadline_s

    def _retry_later(
        self, route: Route, payload: Any, audit_id: str, exc: Exception, log: Logger
    ) -> HttpResponse:
        """Stored, not applied (contention, a provider API down): parked for the sweep, which
        replays the stored request with backoff, and acknowledged (invariant 9). Only when
        even the parking cannot be written does the provider get a 503 and retry."""
        now = self.clock()
        try:
            self.parking.park(
                ParkedEvent(
                    key=_request_key(audit_id),
                    provider=route.provider,
                    audit_id=audit_id,
                    reason=f"not applied yet: {type(exc).__name__}",
                    parked_at=now,
                    waits_for=RETRY,
                    event_type=kind_of(payload),
                    next_check_at=next_check(now, 0),
                )
            )
        except Exception:
            return self._transient(route.provider, "apply", exc, log)
        log.warning(
            "webhook stored, not applied yet; parked for the sweep",
            provider=route.provider,
            outcome="parked",
            error=type(exc).__name__,
            audit_id=audit_id,
        )
        return HttpResponse(200, route.accepted_body, route.accepted_type)

    def _transient(self, provider: str, stage: str, exc: Exception, log: Logger) -> HttpResponse:
        """A 503 for the provider to retry; a failed replay stays parked for the sweep."""
        log.error(
            "webhook failed; provider will retry"
            if stage != "replay"
            else "stored request not applied; left parked for the sweep",
            provider=provider,
            outcome="failed",
            stage=stage,
            error=type(exc).__name__,
        )
        return HttpResponse(503, json.dumps({"error": "temporarily_unavailable"}))


RETRY: Final = "retry"  # what a request parked after a transient failure waits for


def _request_key(audit_id: str) -> str:
    """The parked record of a whole request that could not be normalised."""
    return f"request:{audit_id}"


def _by_request(parked: Sequence[ParkedEvent]) -> dict[str, list[ParkedEvent]]:
    """Parked events by the stored request they come from, requests in provider order."""
    requests: dict[str, list[ParkedEvent]] = {}
    for event in sorted(parked, key=lambda e: e.order):
        requests.setdefault(event.audit_id, []).append(event)
    return requests


def _outcome(status: LedgerStatus) -> str:
    """The recorded outcome: an event with no subscription yet is parked, not refused."""
    return "parked" if status is LedgerStatus.NO_SUBSCRIPTION else status.value
