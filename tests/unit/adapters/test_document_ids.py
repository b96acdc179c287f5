"""Outside identifiers map injectively to valid Firestore document ids."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.adapters.document_ids import MAX_ENCODED_BYTES, document_id, original_id

RESERVED = re.compile(r"__.*__")
identifiers = st.text(min_size=1, max_size=300) | st.text(
    alphabet="/._%~_aé", min_size=1, max_size=12
)
long_identifiers = st.text(min_size=400, max_size=2000)


def valid(doc_id: str) -> bool:
    """Firestore's rules for a document id."""
    return (
        0 < len(doc_id.encode("utf-8")) <= 1500
        and "/" not in doc_id
        and doc_id not in {".", ".."}
        and not RESERVED.fullmatch(doc_id)
    )


@given(identifiers)
def test_every_identifier_gets_a_valid_id_that_gives_it_back(raw: str) -> None:
    doc_id = document_id(raw)
    assert valid(doc_id)
    if len(doc_id) <= MAX_ENCODED_BYTES and "~" not in doc_id:
        assert original_id(doc_id) == raw


@given(identifiers | long_identifiers, identifiers | long_identifiers)
def test_distinct_identifiers_get_distinct_ids(a: str, b: str) -> None:
    if a != b:
        assert document_id(a) != document_id(b)


@given(long_identifiers)
def test_long_identifiers_are_hashed_within_the_limit(raw: str) -> None:
    doc_id = document_id(raw)
    assert valid(doc_id) and len(doc_id) <= MAX_ENCODED_BYTES
    assert original_id(doc_id) is None or original_id(doc_id) == raw


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("a/b", "a_b"),  # the collision the old replace("/", "_") made
        ("a/b", "a%2Fb"),
        (".", ".."),
        ("__x__", "%5F_x__"),
        ("PSP:1", "PSP%3A1"),
        ("x" * 2000, "x" * 2001),
    ],
)
def test_known_collisions_are_gone(a: str, b: str) -> None:
    assert document_id(a) != document_id(b)
    assert valid(document_id(a)) and valid(document_id(b))


@pytest.mark.parametrize(
    "raw",
    ["evt_1PgafyB7WZ01zgkWSjxsAJo3", "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw", "PSP123:AUTHORISATION:true"],
)
def test_ordinary_provider_ids_are_kept_as_they_are(raw: str) -> None:
    assert document_id(raw) == raw


@pytest.mark.parametrize(
    "raw", ["a/b", "ref\\with:colon", "Zürich-Ω", "..", "__name__", "order 42", "a" * 1400]
)
def test_references_adyen_and_stores_send_are_valid_ids(raw: str) -> None:
    assert valid(document_id(raw))


def test_an_empty_identifier_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        document_id("")
