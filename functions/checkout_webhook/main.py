"""checkout_webhook: the door payment providers knock on.

POST /stripe, POST /adyen. Verify, store, apply once, publish; see
refrain.ingest.service for the order of work and the status codes.
Second entry point: outbox_sweep, run by Cloud Scheduler through Pub/Sub,
publishes domain events a crash left unpublished.
"""

from __future__ import annotations

from typing import Any

import flask
import functions_framework

from refrain.ingest.service import WebhookService
from refrain.ingest.wiring import build_webhook_service

_service: WebhookService | None = None


def _webhooks() -> WebhookService:
    global _service  # noqa: PLW0603 - one service per instance, built on first request
    if _service is None:
        _service = build_webhook_service()
    return _service


@functions_framework.http
def checkout_webhook(request: flask.Request) -> flask.Response:
    body = request.get_data(cache=False) if _small_enough(request) else None
    answer = _webhooks().handle(request.method, request.path, dict(request.headers), body)
    return flask.Response(answer.body, status=answer.status, content_type=answer.content_type)


@functions_framework.cloud_event
def outbox_sweep(cloud_event: Any) -> None:
    from refrain.outbox import sweep_from_environment

    sweep_from_environment()


def _small_enough(request: flask.Request) -> bool:
    """Do not read a body we will refuse anyway (413 is decided from the header)."""
    limit = _webhooks().max_body
    return request.content_length is None or request.content_length <= limit
