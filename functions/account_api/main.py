"""account_api: the subscriber's side, under /v1 (docs/openapi/account_api.json).

GET /v1/me/entitlement (one Firestore read), GET /v1/me/subscriptions,
GET /v1/me/invoices (paged) and /v1/me/invoices/{number}.pdf, GET /v1/me/data-export
(GDPR art. 15/20), POST /v1/me/erasure (art. 17, docs/PRIVACY.md), and
POST /v1/me/subscriptions/{id}/cancel|revert-cancel|change-plan|pause|resume, each with
an Idempotency-Key, through the same ledger as provider events. A Firebase ID token names
the account (its uid); a service account's OIDC token may act for one.
CORS for the configured origins only, per-IP and per-account rate limits, bodies
over the limit refused unread; see refrain.account.routes for the order of work.
"""

from __future__ import annotations

import functools

import flask
import functions_framework

from refrain import bootstrap, config_contract, serving
from refrain.account.routes import AccountApi, Request

# In the cloud, a missing setting stops the instance here, by name.
config_contract.refuse_incomplete("account_api")
serving.limit_the_server()  # request-line bound, no control socket (refrain.serving)


@functools.cache
def api() -> AccountApi:
    """One API per instance (clients, verifier caches, rate buckets), built on first use."""
    return bootstrap.build_account_api()


@functools.cache
def max_body() -> int:
    from refrain.account.settings import AccountSettings

    return AccountSettings().max_body_bytes


@functions_framework.http
def account_api(request: flask.Request) -> flask.Response:
    limit = max_body()
    body = serving.read_at_most(request, limit)
    if body is not None and len(body) > limit:
        body = None
    headers = request.headers.items()
    answer = api().handle(Request.make(
        request.method, request.path, headers, body, request.remote_addr or "",
        query=request.args.items(multi=True),
    ))  # fmt: skip
    if answer.status == 413:  # leave the rest unread
        refused = serving.refuse_unread(answer.body, answer.content_type)
        refused.headers.update(answer.headers)
        return refused
    return flask.Response(
        answer.data if answer.data is not None else answer.body or None,
        status=answer.status, headers=answer.headers,
        content_type=answer.content_type or None,
    )  # fmt: skip
