"""Errors as ``application/problem+json`` (RFC 9457), with stable ``type`` URIs.

Every refusal the account API gives is one of :data:`PROBLEMS`: a stable type URI
(clients switch on it), a title, and a status. ``detail`` is written here or is a
domain reason meant for the subscriber; an exception's text, a stack trace, a
document path or a library's message never reaches a response (they are logged,
without personal data, under the request's id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

PROBLEM_BASE: Final = "https://refrain.dev/problems/"
PROBLEM_JSON: Final = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


UNAUTHENTICATED = ProblemType("unauthenticated", 401, "Authentication required")
FORBIDDEN_ORIGIN = ProblemType("origin-not-allowed", 403, "Origin not allowed")
NOT_FOUND = ProblemType("not-found", 404, "Not found")
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", 405, "Method not allowed")
CONFLICT = ProblemType("action-not-allowed", 409, "Not allowed in the subscription's state")
ERASURE_BLOCKED = ProblemType(
    "erasure-blocked", 409, "Cancel the subscriptions that still renew before erasing"
)
IDEMPOTENCY_IN_USE = ProblemType(
    "idempotency-key-in-progress", 409, "A request with this Idempotency-Key is in progress"
)
TOO_LARGE = ProblemType("body-too-large", 413, "Request body too large")
UNSUPPORTED_MEDIA = ProblemType("unsupported-media-type", 415, "Send application/json")
BAD_REQUEST = ProblemType("invalid-request", 400, "The request is not valid")
IDEMPOTENCY_KEY_REQUIRED = ProblemType(
    "idempotency-key-required", 428, "An Idempotency-Key header is required"
)
IDEMPOTENCY_MISMATCH = ProblemType(
    "idempotency-key-reused", 422, "This Idempotency-Key was used with a different request"
)
UNPROCESSABLE = ProblemType("unprocessable", 422, "The request cannot be applied")
RATE_LIMITED = ProblemType("rate-limited", 429, "Too many requests")
UNAVAILABLE = ProblemType("temporarily-unavailable", 503, "Temporarily unavailable, retry")
INTERNAL = ProblemType("internal", 500, "Internal error")
MANAGED_BY_PROVIDER = ProblemType(
    "managed-by-provider", 409, "The payment method is managed by the store or provider"
)
CARD_SETUP_REFUSED = ProblemType(
    "card-setup-refused", 422, "The payment provider refused to start a card update"
)

PROBLEMS: Final = (
    UNAUTHENTICATED, FORBIDDEN_ORIGIN, NOT_FOUND, METHOD_NOT_ALLOWED, CONFLICT, ERASURE_BLOCKED,
    IDEMPOTENCY_IN_USE, TOO_LARGE, UNSUPPORTED_MEDIA, BAD_REQUEST, IDEMPOTENCY_KEY_REQUIRED,
    IDEMPOTENCY_MISMATCH, UNPROCESSABLE, RATE_LIMITED, UNAVAILABLE, INTERNAL,
    MANAGED_BY_PROVIDER, CARD_SETUP_REFUSED,
)  # fmt: skip


@dataclass(eq=False)
class Problem(Exception):
    """Raised anywhere in a request; the router turns it into the response."""

    type: ProblemType
    detail: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    errors: tuple[dict[str, str], ...] = ()  # per-field validation messages

    def body(self, instance: str | None = None) -> str:
        doc: dict[str, object] = {
            "type": self.type.uri,
            "title": self.type.title,
            "status": self.type.status,
        }
        if self.detail:
            doc["detail"] = self.detail
        if instance:
            doc["instance"] = instance
        if self.errors:
            doc["errors"] = list(self.errors)
        return json.dumps(doc, separators=(",", ":"))
