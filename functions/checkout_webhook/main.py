"""checkout_webhook: the door payment providers knock on.

POST /stripe, /adyen, /google-play, /apple. Verify, store, apply once, publish;
see refrain.ingest.service for the order of work and the status codes.
Second entry point: outbox_sweep, run by Cloud Scheduler through Pub/Sub every
minute, publishes domain events a crash left unpublished and looks again at
parked provider events whose check is due (refrain.ingest.parking).
"""

from __future__ import annotations

import functools
from typing import Any

import flask
import functions_framework

from refrain import bootstrap
from refrain.ingest.service import WebhookService


@functools.cache
def webhooks() -> WebhookService:
    """One service per instance, built on the first request."""
    return bootstrap.build_webhook_service()


@functions_framework.http
def checkout_webhook(request: flask.Request) -> flask.Response:
    body = request.get_data(cache=False) if _small_enough(request) else None
    answer = webhooks().handle(request.method, request.path, dict(request.headers), body)
    return flask.Response(answer.body, status=answer.status, content_type=answer.content_type)


@functions_framework.cloud_event
def outbox_sweep(cloud_event: Any) -> None:
    bootstrap.sweep_outbox()
    webhooks().sweep_parked()


def _small_enough(request: flask.Request) -> bool:
    """Do not read a body we will refuse anyway (413 is decided from the header)."""
    return request.content_length is None or request.content_length <= webhooks().max_body
