"""Series selection, number allocation and the send-lease decisions (pure parts)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.domain import load_catalog
from refrain.domain.clock import utc
from refrain.invoicing import build_invoice
from refrain.invoicing.model import DocumentKind, format_number
from refrain.invoicing.numbering import (
    allocate,
    credit_note_id_for,
    document_id,
    series_doc_id,
    series_for,
    shard_of,
)
from refrain.invoicing.sending import (
    ClaimDecision,
    ClaimKind,
    decide_claim,
    decide_record,
    decide_release,
)
from tests.unit.invoicing.factories import T0, invoice_paid

NOW = utc(2025, 1, 15, 9)


@given(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=64))
def test_shard_is_stable_and_in_range(subscription_id: str, shards: int) -> None:
    shard = shard_of(subscription_id, shards)
    assert 1 <= shard <= shards
    assert shard == shard_of(subscription_id, shards)


def test_shards_spread_subscriptions_over_every_series() -> None:
    seen = {series_for("SE", f"sub_{i}", 8) for i in range(400)}
    assert seen == {f"SE{i}" for i in range(1, 9)}


def test_known_values_do_not_change_between_releases() -> None:
    # A subscription's series must not move when the code is redeployed.
    assert series_for("SE", "sub_1", 8) == "SE2"
    assert series_for("SE", "sub_1", 8, DocumentKind.CREDIT_NOTE) == "SE2-CN"
    assert series_for("JP", "sub_1", 1) == "JP1"


@pytest.mark.parametrize("shards", [0, 1000])
def test_shard_count_is_bounded(shards: int) -> None:
    with pytest.raises(ValueError, match="shards"):
        shard_of("sub_1", shards)


def test_number_format_and_ids() -> None:
    assert format_number("SE3", 42) == "SE3-000042"
    assert format_number("SE3", 1_234_567) == "SE3-1234567"
    with pytest.raises(ValueError):
        format_number("SE3", 0)
    assert series_doc_id("refrain_ab", "SE3") == "refrain_ab__SE3"
    assert credit_note_id_for("sub_1#4") == "cn_sub_1#4"
    assert document_id("inv", "a/b") != document_id("inv", "a_b")


def test_an_outside_id_shaped_like_a_hash_cannot_take_another_ids_invoice() -> None:
    hashed = document_id("inv", "a/b")
    lookalike = hashed.removeprefix("inv_")  # "h" + 40 hex: safe characters only
    assert document_id("inv", lookalike) != hashed
    assert document_id("inv", lookalike).startswith("inv_h")


def test_allocate_takes_the_next_number() -> None:
    draft = build_invoice(invoice_paid(), load_catalog(), "en", 8)
    assert allocate(draft, 0, None).sequence == 1
    assert allocate(draft, 41, T0).number == f"{draft.series}-000042"
    with pytest.raises(ValueError, match="corrupt"):
        allocate(draft, -1, None)


def test_allocate_never_dates_a_number_before_the_previous_one() -> None:
    draft = build_invoice(invoice_paid(at=T0), load_catalog(), "en", 8)
    later = T0 + timedelta(hours=3)
    assert allocate(draft, 5, later).issued_at == later
    assert allocate(draft, 5, T0 - timedelta(days=1)).issued_at == T0


# the send lease ---------------------------------------------------------------------
def claim(
    existing: Mapping[str, object] | None, owner: str = "me", now: datetime = NOW
) -> ClaimDecision:
    return decide_claim(existing, owner=owner, now=now, document_id="inv_1", kind="receipt")


def test_first_claim_takes_a_lease() -> None:
    decision = claim(None)
    assert decision.kind is ClaimKind.CLAIMED
    assert decision.write is not None
    assert decision.write["lease_until"] == NOW + timedelta(minutes=2)
    assert decision.write["attempts"] == 1


def test_sent_means_send_nothing() -> None:
    assert claim({"status": "sent", "message_id": "m"}).kind is ClaimKind.ALREADY_SENT


def test_a_live_lease_of_another_worker_means_busy() -> None:
    held = {"status": "sending", "owner": "other", "lease_until": NOW + timedelta(seconds=1)}
    assert claim(held).kind is ClaimKind.BUSY


def test_an_expired_lease_can_be_taken_over() -> None:
    held = {"status": "sending", "owner": "other", "lease_until": NOW, "attempts": 1}
    decision = claim(held)
    assert decision.kind is ClaimKind.CLAIMED
    assert decision.write is not None and decision.write["attempts"] == 2


def test_a_released_lease_can_be_claimed_at_once() -> None:
    released = {"status": "released", "owner": "other", "lease_until": None, "attempts": 1}
    assert claim(released).kind is ClaimKind.CLAIMED


def test_record_and_release() -> None:
    assert decide_record({"status": "sent"}, owner="me", message_id="m", now=NOW) is None
    record = decide_record({"status": "sending"}, owner="me", message_id="m", now=NOW)
    assert record is not None and record["status"] == "sent" and record["message_id"] == "m"
    assert decide_release({"status": "sending", "owner": "other"}, owner="me") is None
    assert decide_release({"status": "sent", "owner": "me"}, owner="me") is None
    assert decide_release({"status": "sending", "owner": "me"}, owner="me") == {
        "status": "released",
        "lease_until": None,
    }
