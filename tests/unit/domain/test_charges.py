"""Reconciliation between the two reporters of a claimed charge (worker and webhook)."""

from __future__ import annotations

import pytest

from refrain.domain import classify_stripe
from refrain.domain.charges import (
    RecordedCharge,
    claim_status,
    outcome_of,
    overwrites,
    payment_charge_id,
    repeats,
)
from refrain.domain.clock import utc
from refrain.domain.inputs import Input, PaymentFailed, PaymentSucceeded, RenewalDue
from refrain.domain.money import Money

AT = utc(2025, 4, 1)
PAID = PaymentSucceeded(
    input_id="e1", occurred_at=AT, charge_id="sub/1:x:1", amount=Money(1, "SEK")
)
DECLINED = PaymentFailed(
    input_id="e2", occurred_at=AT, charge_id="sub/1:x:1", amount=Money(1, "SEK"),
    decline=classify_stripe("card_declined", "insufficient_funds"),
)  # fmt: skip


@pytest.mark.parametrize(
    ("recorded", "report", "is_repeat", "overwritten"),
    [
        (None, PAID, False, True),  # pending (a legacy record without status)
        ("pending", PAID, False, True),
        ("pending", DECLINED, False, True),  # the first outcome
        ("succeeded", PAID, True, True),  # a repeat: the ledger stops before overwriting
        ("declined", DECLINED, True, False),
        ("declined", PAID, False, True),  # a success beats a decline
        ("succeeded", DECLINED, False, False),  # ...and is never replaced by one
    ],
)
def test_first_outcome_wins_and_a_success_beats_a_decline(
    recorded: str | None, report: Input, is_repeat: bool, overwritten: bool
) -> None:
    charge = RecordedCharge(recorded, "renewal")
    assert (repeats(charge, report), overwrites(charge, report)) == (is_repeat, overwritten)


def test_only_payment_outcomes_name_a_charge_and_as_a_document_id() -> None:
    assert payment_charge_id(PAID) == "sub/1:x:1" and outcome_of(PAID) == "succeeded"
    assert outcome_of(DECLINED) == "declined"
    assert payment_charge_id(RenewalDue(input_id="t", occurred_at=AT)) is None
    assert payment_charge_id(None) is None


def test_a_claim_reports_created_or_the_existing_status() -> None:
    assert claim_status(None) == "created"
    assert claim_status(RecordedCharge(None)) == "pending"
    assert claim_status(RecordedCharge("declined", "stripe")) == "declined"
