"""Reading a webhook request: its JSON body and its headers, whatever their case."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from refrain.ingest.rejections import Malformed

_TOKENS = re.compile(r'\\.|["\[\]{}]', re.DOTALL)
MAX_DEPTH = 32  # provider payloads nest a handful of levels; Stripe's deepest are ~8
MAX_INT_DIGITS = 30  # amounts and millisecond times; beyond, int() itself is the attack


def json_body(raw: bytes) -> Any:
    """The body as JSON within bounds; anything else is a Malformed rejection (400).

    Bounded so no input reaches a parser limit as an exception: nesting deeper than
    MAX_DEPTH (the C parser's RecursionError) and integers longer than MAX_INT_DIGITS
    (CPython's 4,300-digit ValueError, and the CPU before it) are refused as such.
    """
    try:
        text = raw.decode("utf-8")
        _shallow(text)
        return json.loads(text, parse_int=_bounded_int)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Malformed(f"body is not JSON within bounds: {exc.__class__.__name__}") from exc


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError("integer too long")
    return int(digits)


def _shallow(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before parsing: one linear pass over the
    tokens that matter (escapes, quotes, brackets), so strings are skipped."""
    depth, in_string = 0, False
    for mark in _TOKENS.findall(text):
        if mark == '"':
            in_string = not in_string
        elif in_string or len(mark) == 2:  # inside a string, or an escape
            continue
        elif mark in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH}")
        else:
            depth -= 1


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its canonical or lower-case name (servers hand either)."""
    return headers.get(name) or headers.get(name.lower())
