"""The one reader of Pub/Sub push envelopes: what it accepts, what it refuses, and never crashes."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.push_envelope import MalformedPush, decode_push, push_message_id

TRACE = "projects/p/traces/0123456789abcdef0123456789abcdef"


def _body(data: object, attributes: object = None, **message: Any) -> dict[str, Any]:
    return {
        "message": {"data": data, "attributes": attributes or {}, **message},
        "subscription": "s",
    }


def test_reads_data_attributes_id_and_trace() -> None:
    body = _body(base64.b64encode(b"x").decode(), {"type": "t", "trace": TRACE}, messageId="7")
    message = decode_push(body)
    assert (message.data, dict(message.attributes), message.message_id) == (
        b"x",
        {"type": "t", "trace": TRACE},
        "7",
    )
    assert message.trace == TRACE


def test_snake_case_message_id_and_missing_data_are_accepted() -> None:
    message = decode_push({"message": {"message_id": "9"}})
    assert (message.data, message.message_id, message.trace) == (b"", "9", None)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {},
        {"message": "not an object"},
        _body("***"),
        _body(12),
        _body(base64.b64encode(b"x").decode(), attributes=["a"]),
    ],
)
def test_what_is_not_a_pubsub_message_is_malformed(body: object) -> None:
    with pytest.raises(MalformedPush):
        decode_push(body)


def test_the_message_id_is_readable_even_from_a_malformed_delivery() -> None:
    assert push_message_id(_body("***", messageId="m-1")) == "m-1"
    assert push_message_id("garbage") == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    data=json_values | st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
    attributes=json_values,
    message_id=json_values,
)
def test_any_delivery_decodes_or_is_malformed_never_anything_else(
    data: object, attributes: object, message_id: object
) -> None:
    body = {"message": {"data": data, "attributes": attributes, "messageId": message_id}}
    try:
        message = decode_push(body)
    except MalformedPush:
        return
    assert isinstance(message.data, bytes)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in message.attributes.items())
