"""The send lease: the decision behind "exactly one e-mail per document".

A send record (``receipt_sends/{notice_id}``) goes through::

    (none) --claim--> sending(owner, lease_until) --record--> sent(message_id)
                          |  ^
             release /    |  | claim after lease_until (the owner died)
             SES error    v  |
                        released

The decision is a pure function of the stored record and the clock, run by
the adapter inside a Firestore transaction so two workers can never both
see "free". Clock skew between workers only matters if it approaches the
lease (2 minutes by default); Cloud Functions' clocks are NTP-synced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

__all__ = [
    "DEFAULT_LEASE",
    "ClaimDecision",
    "ClaimKind",
    "decide_claim",
    "decide_record",
    "decide_release",
]

DEFAULT_LEASE = timedelta(minutes=2)


class ClaimKind(StrEnum):
    CLAIMED = "claimed"  # we may send now
    ALREADY_SENT = "already_sent"  # done before: ack, send nothing
    BUSY = "busy"  # another worker holds a live lease: come back later


@dataclass(frozen=True)
class ClaimDecision:
    kind: ClaimKind
    write: dict[str, Any] | None  # the record to store when CLAIMED


def decide_claim(
    existing: Mapping[str, Any] | None,
    *,
    owner: str,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
    document_id: str,
    kind: str,
) -> ClaimDecision:
    status = existing.get("status") if existing else None
    if status == "sent":
        return ClaimDecision(ClaimKind.ALREADY_SENT, None)
    if (
        existing is not None
        and status == "sending"
        and existing.get("owner") != owner
        and _aware(existing.get("lease_until")) > now
    ):
        return ClaimDecision(ClaimKind.BUSY, None)
    attempts = int(existing.get("attempts", 0)) if existing else 0
    return ClaimDecision(
        ClaimKind.CLAIMED,
        {
            "status": "sending",
            "owner": owner,
            "lease_until": now + lease,
            "claimed_at": now,
            "attempts": attempts + 1,
            "document_id": document_id,
            "kind": kind,
        },
    )


def decide_record(
    existing: Mapping[str, Any] | None, *, owner: str, message_id: str, now: datetime
) -> dict[str, Any] | None:
    """The update that marks the send done, or None if it already is."""
    if existing is not None and existing.get("status") == "sent":
        return None  # someone recorded first (only after our lease ran out)
    return {
        "status": "sent",
        "owner": owner,
        "message_id": message_id,
        "sent_at": now,
        "lease_until": None,
    }


def decide_release(existing: Mapping[str, Any] | None, *, owner: str) -> dict[str, Any] | None:
    """Give the lease back after a failed send, so a redelivery may retry at once."""
    if existing is None or existing.get("status") != "sending" or existing.get("owner") != owner:
        return None
    return {"status": "released", "lease_until": None}


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime):
        return datetime.min.replace(tzinfo=UTC)  # unreadable: treat as expired
    return value
