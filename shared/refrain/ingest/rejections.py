"""Why a request is refused, and the HTTP status each reason maps to.

Rejections are permanent (4xx): the provider should not retry them, and
nothing about them is stored; they are logged with reason, provider and size.
"""

from __future__ import annotations


class Rejection(Exception):
    status: int = 400
    reason: str = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadSignature(Rejection):
    status = 401
    reason = "bad_signature"


class StaleTimestamp(Rejection):
    status = 400
    reason = "stale_timestamp"


class Malformed(Rejection):
    status = 400
    reason = "malformed"


class Unreadable(Rejection):
    """A request that broke a parser or verifier in a way no check named: refused, not a 500."""

    status = 400
    reason = "unreadable"


class TooLarge(Rejection):
    status = 413
    reason = "too_large"


class UnsupportedMediaType(Rejection):
    status = 415
    reason = "unsupported_media_type"


class RouteNotFound(Rejection):
    status = 404
    reason = "not_found"


class MethodNotAllowed(Rejection):
    status = 405
    reason = "method_not_allowed"


class Unmappable(Rejection):
    """Verified and stored, but it names a plan, market or subscription we do not know."""

    status = 422
    reason = "unmappable"
