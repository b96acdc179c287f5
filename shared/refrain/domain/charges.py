"""Charge reconciliation: two reporters, one recorded outcome per claimed charge.

A renewal charge is claimed (``pending``) before the gateway is called. Its
outcome then reaches the ledger twice: from the worker once the gateway has
answered, and from the provider's asynchronous webhook. Whichever commits
first is recorded; the same outcome reported again is a duplicate; a success
(money moved) replaces a decline, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from refrain.domain.inputs import Input, PaymentFailed, PaymentSucceeded

__all__ = [
    "CREATED",
    "DECLINED",
    "PENDING",
    "SUCCEEDED",
    "RecordedCharge",
    "claim_status",
    "outcome_of",
    "overwrites",
    "payment_charge_id",
    "repeats",
]

PENDING: Final = "pending"
SUCCEEDED: Final = "succeeded"
DECLINED: Final = "declined"
CREATED: Final = "created"  # what a claim reports when it created the charge record


@dataclass(frozen=True, slots=True)
class RecordedCharge:
    """A claimed charge as we hold it: its status (None on a legacy record) and its recorder."""

    status: str | None = None
    recorded_by: str | None = None


def payment_charge_id(inp: Input | None) -> str | None:
    """The charge a payment outcome reports on (None for every other input)."""
    if isinstance(inp, PaymentSucceeded | PaymentFailed) and inp.charge_id:
        return inp.charge_id
    return None


def outcome_of(inp: Input) -> str:
    return SUCCEEDED if isinstance(inp, PaymentSucceeded) else DECLINED


def repeats(charge: RecordedCharge, inp: Input) -> bool:
    """The outcome is recorded already (the webhook after the worker, or the reverse)."""
    return charge.status == outcome_of(inp)


def overwrites(charge: RecordedCharge, inp: Input) -> bool:
    """A pending charge takes the first outcome; a success (money moved) beats a decline."""
    return charge.status in (None, PENDING) or outcome_of(inp) == SUCCEEDED


def claim_status(existing: RecordedCharge | None) -> str:
    """A claim's answer: created, or the existing claim's status (pending: a re-drive)."""
    if existing is None:
        return CREATED
    return existing.status or PENDING
