"""The webhook's HTTP surface: routes, answers, and what is refused before reading a body."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from refrain.domain.catalog import Catalog
from refrain.ingest.model import ProviderEvent
from refrain.ingest.rejections import (
    Malformed,
    MethodNotAllowed,
    RouteNotFound,
    TooLarge,
    UnsupportedMediaType,
)

MAX_BODY_BYTES = 1024 * 1024

# A provider route: verify the raw request (raising a Rejection) and return its parsed payload.
Verifier = Callable[[bytes, Mapping[str, str]], Any]
# Parse a stored (already verified) body again, for replay.
Parser = Callable[[bytes], Any]
# ...then turn the payload into provider events (raising MappingError / DomainError).
Normaliser = Callable[[Any, Catalog], list[ProviderEvent]]


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


def route_for(
    routes: Mapping[str, Route], method: str, path: str, headers: Mapping[str, str]
) -> Route:
    """The route a request is for; refuses what is not ours before reading the body."""
    route = routes.get(path)
    if route is None:
        raise RouteNotFound(f"no webhook at {path}")
    if method != "POST":
        raise MethodNotAllowed(f"{method} is not allowed")
    media = (headers.get("Content-Type") or headers.get("content-type") or "").split(";")[0]
    if media.strip().lower() not in route.media_types:
        raise UnsupportedMediaType(f"content type {media!r} is not accepted")
    return route


def read_body(headers: Mapping[str, str], body: bytes | None, max_body: int) -> bytes:
    """The body, if it is within the limit (413 otherwise, decided before reading it)."""
    declared = headers.get("Content-Length") or headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body:
        raise TooLarge(f"declared {declared} bytes")
    if body is None or len(body) > max_body:
        raise TooLarge("body over the limit")
    if not body:
        raise Malformed("empty body")
    return body


def secrets_list(raw: str | None) -> Sequence[str]:
    """Comma-separated secrets (rotation: old and new both valid for a while)."""
    return tuple(s.strip() for s in (raw or "").split(",") if s.strip())
