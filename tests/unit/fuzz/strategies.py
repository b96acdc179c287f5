"""Hypothesis strategies for hostile webhook requests: bytes, JSON, and mutated signed requests."""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
    ";",
    "application/json;;;",
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None


# A request the fuzzer starts from: body and headers exactly as the provider signed them.
Seed = tuple[bytes, dict[str, str]]

BASE64URL = string.ascii_letters + string.digits + "-_="
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

header_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"), max_size=60
)


def _keyed(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects that use the provider's own field names, so verification code is reached."""
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), json_values, max_size=6)


def shaped_bodies(keys: list[str]) -> st.SearchStrategy[bytes]:
    structured = st.one_of(
        json_values,
        _keyed(keys),
        st.builds(lambda items: {"notificationItems": items}, st.lists(_wrapped(keys), max_size=3)),
        st.builds(lambda m: {"message": m, "subscription": "s"}, _keyed(keys)),
        st.builds(lambda p: {"signedPayload": p}, _jws_like()),
    )
    return structured.map(lambda v: json.dumps(v).encode())


def _wrapped(keys: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda item: {"NotificationRequestItem": item}, _keyed(keys)), json_values
    )


def _jws_like() -> st.SearchStrategy[str]:
    segment = st.text(BASE64URL, max_size=40)
    return st.one_of(
        st.builds(lambda a, b, c: f"{a}.{b}.{c}", segment, segment, segment), st.text(max_size=40)
    )


def headers_for(
    signature_header: str | None, content_type: st.SearchStrategy[str]
) -> st.SearchStrategy[dict[str, str]]:
    """Random headers: content type, declared length, and a garbled auth header."""
    auth_values = st.one_of(
        header_text,
        st.builds(lambda t: f"Bearer {t}", header_text),
        st.builds(lambda t: f"Basic {t}", header_text),
        st.builds(lambda t, v: f"t={t},v1={v}", st.integers(), header_text),
    )
    extra: dict[str, st.SearchStrategy[str]] = {"Content-Length": st.integers(-5, 10**7).map(str)}
    if signature_header:
        extra[signature_header] = auth_values
    return st.fixed_dictionaries({"Content-Type": content_type}, optional=extra).map(dict)


def _flip(body: bytes, index: int, value: int) -> bytes:
    if not body:
        return bytes([value])
    i = index % len(body)
    return body[:i] + bytes([body[i] ^ (value or 1)]) + body[i + 1 :]


def _drop_field(body: bytes, pick: int) -> bytes:
    """Remove one key anywhere in the JSON document (after signing)."""
    doc = json.loads(body)
    holders: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            holders.append(node)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(doc)
    keyed = [h for h in holders if h]
    if keyed:
        holder = keyed[pick % len(keyed)]
        del holder[sorted(holder)[pick % len(holder)]]
    return json.dumps(doc).encode()


def _set_numbers(body: bytes, value: int) -> bytes:
    """Change every amount-like number (after signing)."""
    doc = json.loads(body)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (value if isinstance(v, int) and not isinstance(v, bool) else walk(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return json.dumps(walk(doc)).encode()


def mutated(
    seeds: st.SearchStrategy[Seed],
    extra_mutations: list[Callable[[bytes], bytes]] | None = None,
) -> st.SearchStrategy[tuple[bytes, dict[str, str]]]:
    """A signed request, then one or two edits to its body or its headers."""
    body_edits: list[st.SearchStrategy[Callable[[bytes], bytes]]] = [
        st.builds(
            lambda i, v: lambda b: _flip(b, i, v), st.integers(0, 10**6), st.integers(0, 255)
        ),
        st.builds(lambda i: lambda b: b[: i % (len(b) + 1)], st.integers(0, 10**6)),
        st.builds(lambda i: lambda b: _drop_field(b, i), st.integers(0, 1000)),
        st.builds(lambda v: lambda b: _set_numbers(b, v), st.integers(-(2**63), 2**63)),
        st.builds(lambda x: lambda b: b + x, st.binary(min_size=1, max_size=8)),
        st.just(lambda b: b.replace(b'"', b"'", 1)),
        st.just(lambda b: b"\xef\xbb\xbf" + b),
        st.just(lambda b: b),
    ]
    for edit in extra_mutations or []:
        body_edits.append(st.just(edit))
    header_edits = st.one_of(
        st.just(lambda h: h),
        st.builds(
            lambda k: lambda h: {n: v for n, v in h.items() if n != k},
            st.sampled_from(["Stripe-Signature", "Authorization", "Content-Type"]),
        ),
        st.builds(
            lambda i, v: (
                lambda h: {
                    n: (_flip(val.encode(), i, v).decode("latin-1") if n != "Content-Type" else val)
                    for n, val in h.items()
                }
            ),
            st.integers(0, 10**4),
            st.integers(1, 127),
        ),
        st.builds(lambda t: lambda h: {**h, "Content-Type": t}, st.sampled_from(CONTENT_TYPES)),
    )

    def apply(
        seed: Seed, edits: list[Callable[[bytes], bytes]], head: Any
    ) -> tuple[bytes, dict[str, str]]:
        body, headers = seed
        for edit in edits:
            try:
                body = edit(body)
            except (ValueError, TypeError):
                continue  # the previous edit broke the JSON: keep the bytes as they are
        return body, head(dict(headers))

    return st.builds(
        apply,
        seeds,
        st.lists(st.one_of(body_edits), min_size=1, max_size=2),
        header_edits,
    )


def _oversized(
    path: str, seed: Seed, declared: bool, extra: int, content_type: str, max_body: int
) -> Request:
    """Over the limit by what is declared (Content-Length) or by what is actually sent."""
    body, headers = seed
    headers = {**headers, "Content-Type": content_type}
    if declared:
        return Request("POST", path, {**headers, "Content-Length": str(max_body + extra)}, body)
    return Request("POST", path, headers, body + b" " * (max_body + 1 - len(body) + extra % 64))


def requests(
    path: str,
    seeds: st.SearchStrategy[Seed],
    keys: list[str],
    signature_header: str | None,
    max_body: int,
    extra_mutations: list[Callable[[bytes], bytes]] | None = None,
) -> st.SearchStrategy[Request]:
    """Everything the route may be sent: mostly well-aimed, sometimes the wrong door."""
    content_type = st.sampled_from(CONTENT_TYPES) | header_text
    post_json = st.sampled_from(["application/json", "application/json; charset=utf-8"])
    arbitrary = st.builds(
        Request,
        st.just("POST"),
        st.just(path),
        headers_for(signature_header, content_type),
        st.binary(max_size=300),
    )
    structured = st.builds(
        Request,
        st.just("POST"),
        st.just(path),
        headers_for(signature_header, post_json),
        shaped_bodies(keys),
    )
    from_seeds = mutated(seeds, extra_mutations).map(lambda bh: Request("POST", path, bh[1], bh[0]))
    oversized = st.builds(
        _oversized,
        st.just(path),
        seeds,
        st.booleans(),
        st.integers(1, 10**9),
        post_json,
        st.just(max_body),
    )
    wrong_door = st.builds(
        Request,
        st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "post", "HEAD", "OPTIONS"]),
        st.sampled_from([path, path + "/", path.upper(), "/", "/paypal", path + "?x=1"]),
        headers_for(signature_header, post_json),
        st.one_of(st.none(), st.binary(max_size=50)),
    )
    return st.one_of(
        arbitrary, structured, from_seeds, from_seeds, from_seeds, oversized, wrong_door
    )
