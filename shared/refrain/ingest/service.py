"""The webhook service: verify, store the raw request, apply in one transaction, publish.

Order of work for every request (dj-stripe's ingestion discipline):
1. refuse what is not ours before reading it: route, method, size, media type;
2. verify with the provider's own scheme, before parsing anything;
3. store the verified raw request (the audit record) so a failure is inspectable
   and replayable;
4. normalise into provider-neutral inputs and apply each through the ledger
   (dedupe + state machine + outbox in one Firestore transaction);
5. publish the outbox entry, then record the outcome.

Tracing: every line written while handling a request carries its Cloud Logging
trace (X-Cloud-Trace-Context / traceparent), through a logger bound per request
and passed down (never stored on the service: one instance serves concurrent
requests). The trace is stored with the outbox entry and published as the
``trace`` attribute, so the consumers' lines join the same trace.

Status codes: 2xx only after a durable commit (or for a duplicate); 4xx for
permanent rejections, which store nothing; 5xx for anything transient, so the
provider retries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from refrain.domain.catalog import Catalog
from refrain.domain.errors import DomainError
from refrain.domain.subscription import Subscription
from refrain.ingest.model import MappingError, ProviderEvent
from refrain.ingest.rejections import (
    Malformed,
    MethodNotAllowed,
    Rejection,
    RouteNotFound,
    TooLarge,
    Unmappable,
    UnsupportedMediaType,
)
from refrain.ledger import Ledger, LedgerCommand, LedgerStatus
from refrain.observability import Logger, trace_from_headers
from refrain.outbox import OutboxPublisher

MAX_BODY_BYTES = 1024 * 1024

# A provider route: verify the raw request (raising a Rejection) and return its parsed payload.
Verifier = Callable[[bytes, Mapping[str, str]], Any]
# Parse a stored (already verified) body again, for replay.
Parser = Callable[[bytes], Any]
# ...then turn the payload into provider events (raising MappingError / DomainError).
Normaliser = Callable[[Any, Catalog], list[ProviderEvent]]


class AuditLog(Protocol):
    def record(
        self, provider: str, headers: dict[str, str], body: bytes, received_at: datetime
    ) -> str: ...

    def finish(self, audit_id: str, outcome: str, detail: str | None, published: list[str]) -> None:
        """Store the outcome, and mark the published outbox entries, in one commit."""
        ...


@dataclass(frozen=True)
class Route:
    provider: str
    verify: Verifier
    parse: Parser
    normalise: Normaliser
    accepted_body: str = '{"received": true}'
    accepted_type: str = "application/json"
    media_types: tuple[str, ...] = ("application/json",)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str
    content_type: str = "application/json"


@dataclass
class WebhookService:
    routes: Mapping[str, Route]
    ledger: Ledger
    # Publishes only: the entries it published are marked with the audit outcome, one commit.
    publisher: OutboxPublisher
    audit: AuditLog
    catalog: Catalog
    clock: Callable[[], datetime]
    log: Logger
    max_body: int = MAX_BODY_BYTES
    outcomes: list[str] = field(default_factory=list)
    # Names the request's trace (projects/{project}/traces/{id}); None: lines carry no trace.
    project: str | None = None

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None
    ) -> HttpResponse:
        started = time.perf_counter()
        log = self.request_log(headers)
        provider = self.routes[path].provider if path in self.routes else None
        size = len(body or b"")
        try:
            route = self._route(method, path, headers)
            raw = self._read(headers, body)
            payload = route.verify(raw, headers)
        except Rejection as rejection:
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
        route = next(r for r in self.routes.values() if r.provider == provider)
        try:
            payload = route.parse(body)
        except Rejection as rejection:
            return HttpResponse(rejection.status, json.dumps({"error": rejection.reason}))
        return self.process(route, payload, audit_id)

    def process(
        self, route: Route, payload: Any, audit_id: str, log: Logger | None = None
    ) -> HttpResponse:
        """Normalise and apply a verified, stored request (also used by replay).

        ``log`` is the request's bound logger; its trace also goes with the outbox entry.
        """
        log = log or self.log
        published: list[str] = []
        try:
            events = route.normalise(payload, self.catalog)
            statuses = [self._apply(event, audit_id, published, log) for event in events]
        except (MappingError, DomainError) as exc:
            self._finish(audit_id, "unmappable", str(exc), published, log)
            log.warning(
                "webhook unmappable", provider=route.provider, outcome="unmappable", reason=str(exc)
            )
            rejection = Unmappable(str(exc))
            return HttpResponse(rejection.status, json.dumps({"error": rejection.reason}))
        except Exception as exc:
            self._finish(audit_id, "failed", type(exc).__name__, published, log)
            return self._transient(route.provider, "apply", exc, log)
        if LedgerStatus.NO_SUBSCRIPTION in statuses:
            # Not recorded: the provider's retry (or a replay) applies it once the
            # subscription exists, e.g. a payment that overtook its checkout.
            self._finish(audit_id, "unmappable", "subscription not known yet", published, log)
            return HttpResponse(422, json.dumps({"error": "unknown_subscription"}))
        outcome = ",".join(sorted({s.value for s in statuses}))
        self._finish(audit_id, outcome, None, published, log)
        return HttpResponse(200, route.accepted_body, route.accepted_type)

    # -- steps -----------------------------------------------------------------

    def _route(self, method: str, path: str, headers: Mapping[str, str]) -> Route:
        route = self.routes.get(path)
        if route is None:
            raise RouteNotFound(f"no webhook at {path}")
        if method != "POST":
            raise MethodNotAllowed(f"{method} is not allowed")
        media = (headers.get("Content-Type") or headers.get("content-type") or "").split(";")[0]
        if media.strip().lower() not in route.media_types:
            raise UnsupportedMediaType(f"content type {media!r} is not accepted")
        return route

    def _read(self, headers: Mapping[str, str], body: bytes | None) -> bytes:
        declared = headers.get("Content-Length") or headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            raise TooLarge(f"declared {declared} bytes")
        if body is None or len(body) > self.max_body:
            raise TooLarge("body over the limit")
        if not body:
            raise Malformed("empty body")
        return body

    def _apply(
        self, event: ProviderEvent, audit_id: str, published: list[str], log: Logger
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
        self.outcomes.append(result.status.value)
        log.info(
            "provider event",
            provider=event.provider,
            provider_event_id=event.event_id,
            event_type=event.event_type,
            subscription_id=sub_id,
            outcome=result.status.value,
            reason=result.reason,
            domain_events=[e.type.value for e in result.events],
        )
        return result.status

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

    def _transient(self, provider: str, stage: str, exc: Exception, log: Logger) -> HttpResponse:
        log.error(
            "webhook failed; provider will retry",
            provider=provider,
            outcome="failed",
            stage=stage,
            error=type(exc).__name__,
        )
        return HttpResponse(503, json.dumps({"error": "temporarily_unavailable"}))


def secrets_list(raw: str | None) -> Sequence[str]:
    """Comma-separated secrets (rotation: old and new both valid for a while)."""
    return tuple(s.strip() for s in (raw or "").split(",") if s.strip())
