"""checkout_webhook: the door payment providers knock on.

POST /stripe, /adyen, /google-play, /apple. Verify, store, apply once, publish;
see refrain.ingest.service for the order of work and the status codes.
Second entry point: outbox_sweep, run by Cloud Scheduler through Pub/Sub every
minute, publishes domain events a crash left unpublished and looks again at
parked provider events whose check is due (refrain.ingest.parking).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import flask
import functions_framework

from refrain import bootstrap, config_contract, serving

if TYPE_CHECKING:  # built (and imported) by bootstrap on the first request
    from refrain.ingest.service import WebhookService

# In the cloud, a missing setting stops the instance here, by name.
config_contract.refuse_incomplete("checkout_webhook")
# gunicorn's request-line bound (functions-framework turns it off), no control socket.
serving.limit_the_server()


@functools.cache
def webhooks() -> WebhookService:
    """One service per instance, built on the first request."""
    return bootstrap.build_webhook_service()


@functions_framework.http
def checkout_webhook(request: flask.Request) -> flask.Response:
    body = _read_at_most(request, webhooks().max_body)
    answer = webhooks().handle(request.method, request.path, dict(request.headers), body)
    if answer.status == 413:  # leave the rest unread (see _refuse_unread)
        return _refuse_unread(answer.body, answer.content_type)
    return flask.Response(answer.body, status=answer.status, content_type=answer.content_type)


@functions_framework.cloud_event
def outbox_sweep(cloud_event: Any) -> None:
    bootstrap.sweep_outbox()
    webhooks().sweep_parked()


def _refuse_unread(body: str, content_type: str) -> flask.Response:
    """413 without reading the rest of the body, and the connection closed.

    functions-framework reads every request to its end after the function returns
    (``read_request``, into memory) unless the response is streamed: a streamed answer
    keeps a 32 MiB body out of memory, and ``Connection: close`` lets the server drop it.
    """
    return flask.Response(
        iter([body]), status=413, content_type=content_type, headers={"Connection": "close"}
    )


def _read_at_most(request: flask.Request, limit: int) -> bytes | None:
    """At most ``limit`` + 1 bytes, chunked or not: a body over the limit is never held.

    None when the declared length is already over it (413 without reading).
    """
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, room = [], limit + 1
    while room > 0:  # a stream may answer short reads: read until the end or the limit
        chunk = request.stream.read(min(room, 64 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        room -= len(chunk)
    return b"".join(chunks)
