"""Reading a webhook request: its JSON body and its headers, whatever their case."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from refrain.ingest.rejections import Malformed


def json_body(raw: bytes) -> Any:
    """The body as JSON; anything else is a Malformed rejection (400), never a crash."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"body is not JSON: {exc.__class__.__name__}") from exc


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its canonical or lower-case name (servers hand either)."""
    return headers.get(name) or headers.get(name.lower())
