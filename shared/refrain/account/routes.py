"""The account API over HTTP, without a web framework: request in, response out.

Order of work for every request (each step refuses before the next costs anything):

1. CORS: an ``Origin`` outside ``REFRAIN_ACCOUNT_CORS_ORIGINS`` is a 403 (preflight
   included); an allowed preflight is a 204 with the allowed methods and headers;
2. the per-IP token bucket (429 + ``Retry-After``);
3. the body limit (413; the function never reads past it) and the route (404/405);
4. authentication (401 with ``WWW-Authenticate: Bearer``), then the per-account bucket;
5. the handler: JSON in (``application/json``, validated by the pydantic model, 400
   with per-field errors), JSON out, problems as ``application/problem+json``.

:data:`ROUTES` (refrain.account.route_table) is also what the OpenAPI document is
generated from.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from refrain.account import problems as p
from refrain.account.auth import (
    ACCOUNT_HEADER,
    Authenticator,
    Caller,
    Unauthenticated,
    VerifierDown,
)
from refrain.account.documents import AccountDocuments
from refrain.account.models import (
    ChangePlanIn,
    PaymentMethodSessionIn,
)
from refrain.account.page import AccountPage
from refrain.account.payment_method import NotConfigured, PaymentMethodSessions
from refrain.account.problems import PROBLEM_JSON, Problem
from refrain.account.ratelimit import TokenBucket, retry_after
from refrain.account.route_table import (
    IDEMPOTENCY_HEADER,
    JSON,
    PDF,
    ROUTES,
    Request,
    Response,
    Route,
)
from refrain.account.service import AccountService, Answer, fingerprint
from refrain.account.view import AccountView
from refrain.observability import Logger

# The surface lives in route_table; the names stay importable from here, the handler's module.
__all__ = [
    "IDEMPOTENCY_HEADER", "JSON", "PDF", "ROUTES",
    "AccountApi", "Request", "Response", "Route",
]  # fmt: skip
_KEY = re.compile(r"^[\x21-\x7e]{8,255}$")  # printable ASCII, no spaces


_COMPILED = tuple((route, route.pattern) for route in ROUTES)


@dataclass
class AccountApi:
    service: AccountService
    auth: Authenticator
    origins: frozenset[str]
    per_ip: TokenBucket
    per_account: TokenBucket
    log: Logger
    trusted_hops: int = 1
    clock: Callable[[], float] = time.monotonic
    documents: AccountDocuments | None = None  # invoices, PDFs, the data export
    cards: PaymentMethodSessions | None = None  # card-update sessions at the providers
    view: AccountView | None = None  # what the account page shows
    page: AccountPage | None = None  # the account page's own files (public)

    def handle(self, request: Request) -> Response:
        started = self.clock()
        rid = uuid.uuid4().hex
        origin = request.headers.get("origin")
        seen = {"route": "-", "caller": "-"}  # for the log line, as far as it got
        try:
            if origin is not None and not self._allowed(origin, request):
                raise Problem(p.FORBIDDEN_ORIGIN)
            if request.method == "OPTIONS":
                response = self._preflight(request)
            else:
                self._limit(self.per_ip, "ip:" + self._client_ip(request))
                page = self._page(request)
                if page is not None:
                    seen["route"] = "account-page"
                response = page if page is not None else self._api(request, seen)
        except Problem as problem:
            response = _problem_response(problem, rid)
        except Exception as exc:  # never a stack trace or a library's message to the client
            unavailable = type(exc).__module__.startswith("google.api_core")
            failure = Problem(p.UNAVAILABLE if unavailable else p.INTERNAL)
            self.log.error("account request failed", request_id=rid, route=seen["route"],
                           error=type(exc).__name__)  # fmt: skip
            response = _problem_response(failure, rid)
        if origin is not None and response.status != 403:
            response.headers.update(_cors(origin))
        response.headers.setdefault("Vary", "Origin")
        self.log.info(
            "account request", request_id=rid, route=seen["route"], method=request.method,
            status=response.status, caller=seen["caller"],
            duration_ms=round((self.clock() - started) * 1000, 1),
        )  # fmt: skip
        return response

    # -- steps -----------------------------------------------------------------------

    def _allowed(self, origin: str, request: Request) -> bool:
        """A configured origin, or this API's own (the account page it serves: browsers
        send ``Origin`` on a same-origin POST too)."""
        if origin.rstrip("/") in self.origins:
            return True
        host = request.headers.get("host")
        return host is not None and urlsplit(origin).netloc == host.strip()

    def _api(self, request: Request, seen: dict[str, str]) -> Response:
        route, params = _match(request)
        seen["route"] = route.name
        if request.body is None:
            raise Problem(p.TOO_LARGE)
        caller = self._authenticate(request)
        seen["caller"] = caller.kind
        self._limit(self.per_account, "account:" + caller.account_id)
        return self._dispatch(route, params, caller, request)

    def _preflight(self, request: Request) -> Response:
        if request.headers.get("origin") is None:
            return Response(204, headers={"Allow": "GET, POST, OPTIONS"})
        return Response(204, content_type="", headers={
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers":
                f"Authorization, Content-Type, {IDEMPOTENCY_HEADER}, {ACCOUNT_HEADER}",
            "Access-Control-Max-Age": "600",
        })  # fmt: skip

    def _client_ip(self, request: Request) -> str:
        """The address Google's front end saw: the last trusted X-Forwarded-For entry."""
        forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if self.trusted_hops and len(forwarded) >= self.trusted_hops:
            return forwarded[-self.trusted_hops]
        return request.remote_addr or "unknown"

    def _limit(self, bucket: TokenBucket, key: str) -> None:
        wait = bucket.take(key)
        if wait > 0:
            raise Problem(p.RATE_LIMITED, headers={"Retry-After": retry_after(wait)})

    def _page(self, request: Request) -> Response | None:
        """The account page's files: public, no credentials, never cached by a proxy as
        someone's (the page holds no account data; the script fetches it)."""
        if self.page is None:
            return None
        found = self.page.answer(
            request.method, request.path, request.headers.get("accept-language", ""),
            request.query.get("lang"),
        )  # fmt: skip
        if found is None:
            return None
        return Response(found.status, "", found.content_type, found.headers, found.body)

    def _authenticate(self, request: Request) -> Caller:
        try:
            return self.auth.caller(request.headers)
        except Unauthenticated as exc:
            self.log.warning("account request refused", reason=exc.why)
            raise Problem(p.UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"}) from exc
        except VerifierDown as exc:
            raise Problem(p.UNAVAILABLE, headers={"Retry-After": "1"}) from exc

    def _dispatch(
        self, route: Route, params: dict[str, str], caller: Caller, request: Request
    ) -> Response:
        account = caller.account_id
        if route.name == "entitlement":
            answer, max_age = self.service.entitlement(account)
            return Response(200, answer.model_dump_json(), headers={
                "Cache-Control": f"private, max-age={max_age}", "Vary": "Authorization, Origin",
            })  # fmt: skip
        if route.name == "subscriptions":
            listed = self.service.subscriptions(account)
            return Response(200, listed.model_dump_json(), headers={"Cache-Control": "no-store"})
        if route.name == "account-view":
            if self.view is None:
                raise Problem(p.NOT_FOUND)
            q = request.query
            shown = self.view.build(account, q.get("lang"), q.get("subscription"), q.get("plan"))
            return Response(200, shown.model_dump_json(), headers={"Cache-Control": "no-store"})
        if route.name in _DOCUMENTS:
            return self._document(route.name, params, account, request)
        assert route.body is not None
        body = _parse(route.body, request)
        if isinstance(body, PaymentMethodSessionIn):
            return self._card_session(body, account, request)
        print_ = fingerprint(request.method, request.path, body)
        if route.name == "erasure":
            key = _idempotency_key(request)
            return _answer(self.service.erase(account, key=key, print_=print_))
        sid = params["subscription_id"]
        if isinstance(body, ChangePlanIn) and body.preview:
            return _answer(self.service.preview(account, sid, body))
        if request.headers.get(IDEMPOTENCY_HEADER.lower()) is None:
            self.service.owned(account, sid)  # someone else's subscription: 404 first
        key = _idempotency_key(request)
        return _answer(self.service.act(account, sid, route.name, body, key=key, print_=print_))

    def _card_session(
        self, body: PaymentMethodSessionIn, account: str, request: Request
    ) -> Response:
        if self.cards is None:
            raise Problem(p.NOT_FOUND)
        key = _idempotency_key(request)
        print_ = fingerprint(request.method, request.path, body)
        try:
            session, replayed = self.cards.start(account, body, key=key, print_=print_)
        except NotConfigured as exc:
            self.log.error("card sessions not configured", provider=exc.provider, why=str(exc))
            raise Problem(p.UNAVAILABLE, "Card updates are not available right now") from exc
        headers = {"Cache-Control": "no-store"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(200, session.model_dump_json(), headers=headers)

    def _document(
        self, name: str, params: dict[str, str], account: str, request: Request
    ) -> Response:
        if self.documents is None:
            raise Problem(p.NOT_FOUND)
        private = {"Cache-Control": "private, no-store"}
        if name == "invoices":
            page = self.documents.invoices(
                account, request.query.get("page_token"), request.query.get("page_size")
            )
            return Response(200, page.model_dump_json(), headers=private)
        if name == "invoice-pdf":
            filename, pdf = self.documents.pdf(account, params["number"])
            disposition = f'inline; filename="{filename}"'
            return Response(200, "", PDF, {**private, "Content-Disposition": disposition}, pdf)
        exported = self.documents.export(account)
        disposition = 'attachment; filename="refrain-data-export.json"'
        return Response(200, exported.model_dump_json(indent=2), headers={
            **private, "Content-Disposition": disposition})  # fmt: skip


_DOCUMENTS = frozenset({"invoices", "invoice-pdf", "data-export"})


def _match(request: Request) -> tuple[Route, dict[str, str]]:
    allowed = False
    for route, pattern in _COMPILED:
        found = pattern.match(request.path)
        if found is None:
            continue
        if route.method == request.method:
            return route, found.groupdict()
        allowed = True
    raise Problem(p.METHOD_NOT_ALLOWED if allowed else p.NOT_FOUND)


def _check_key(key: str) -> str:
    if not _KEY.match(key):
        raise Problem(p.BAD_REQUEST, f"{IDEMPOTENCY_HEADER}: 8-255 printable characters")
    return key


def _idempotency_key(request: Request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER.lower())
    if key is None:
        raise Problem(p.IDEMPOTENCY_KEY_REQUIRED)
    return _check_key(key)


def _parse(model: type[BaseModel], request: Request) -> BaseModel:
    raw = request.body or b""
    if not raw.strip():
        raw = b"{}"
    elif (request.headers.get("content-type") or "").split(";")[0].strip().lower() != JSON:
        raise Problem(p.UNSUPPORTED_MEDIA)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = tuple(
            {"field": ".".join(str(x) for x in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)[:10]
        )
        raise Problem(p.BAD_REQUEST, "The body does not match the schema", errors=errors) from exc


def _answer(answer: Answer) -> Response:
    headers = {"Cache-Control": "no-store"}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    kind = PROBLEM_JSON if answer.status >= 400 else JSON
    return Response(answer.status, answer.body, kind, headers)


def _problem_response(problem: Problem, rid: str) -> Response:
    headers = {"Cache-Control": "no-store", **problem.headers}
    return Response(problem.type.status, problem.body(rid), PROBLEM_JSON, headers)


def _cors(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After, Idempotent-Replayed",
    }
