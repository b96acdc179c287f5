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
    body = serving.read_at_most(request, webhooks().max_body)
    answer = webhooks().handle(request.method, request.path, dict(request.headers), body)
    if answer.status == 413:  # leave the rest unread (see serving.refuse_unread)
        return serving.refuse_unread(answer.body, answer.content_type)
    return flask.Response(answer.body, status=answer.status, content_type=answer.content_type)


@functions_framework.cloud_event
def outbox_sweep(cloud_event: Any) -> None:
    bootstrap.sweep_outbox()
    webhooks().sweep_parked()
