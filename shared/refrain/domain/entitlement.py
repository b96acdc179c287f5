"""Entitlement: does an account have access right now, to which plan, until when, and why.

Pure. The ledger derives one :class:`SubscriptionAccess` from every subscription it
writes, in the same transaction (refrain.ledger.decide), and stores it in the
account's entitlement document beside its other subscriptions' entries; the account
API reads that one document and calls :func:`resolve` with the time of the request.
So the hot path is one read, and the entitlement is never a second source of truth:
it is rewritten by every commit that changes a subscription and never otherwise.

Time. A stored entry says what the state machine said when it last ran. Some answers
end by themselves at a known time (a cancellation at period end, the end of a grace
period): ``ends_at_until`` marks them, and :func:`resolve` applies that end even if the
renewal tick has not yet moved the subscription. An active subscription that renews
keeps access past its period end: the renewal either succeeds or puts it in grace,
which keeps access too, and either outcome rewrites the entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from refrain.domain.clock import ensure_utc
from refrain.domain.subscription import State, Subscription


class Reason(StrEnum):
    """Why an account has, or has not, access (a stable part of the public API)."""

    ACTIVE = "active"
    TRIAL = "trial"
    GRACE = "grace"  # a renewal failed; retrying, access kept until the grace ends
    CANCELLED_AT_PERIOD_END = "cancelled_at_period_end"
    ON_HOLD = "on_hold"  # grace over, access suspended, still retrying
    PAUSED = "paused"
    PENDING = "pending"  # created, not paid yet
    EXPIRED = "expired"
    NONE = "none"  # no subscription at all


@dataclass(frozen=True, slots=True)
class SubscriptionAccess:
    """What one subscription grants, as its last committed state says."""

    subscription_id: str
    account_id: str
    plan: str
    plan_rank: int
    state: str
    has_access: bool
    reason: Reason
    until: datetime | None  # period end, grace end, hold end, resume date, end date
    ends_at_until: bool  # access stops at ``until`` whatever happens before
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "account_id": self.account_id,
            "plan": self.plan,
            "plan_rank": self.plan_rank,
            "state": self.state,
            "has_access": self.has_access,
            "reason": self.reason.value,
            "until": None if self.until is None else self.until.isoformat(),
            "ends_at_until": self.ends_at_until,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubscriptionAccess:
        until = data.get("until")
        return cls(
            subscription_id=str(data["subscription_id"]),
            account_id=str(data["account_id"]),
            plan=str(data["plan"]),
            plan_rank=int(data["plan_rank"]),
            state=str(data["state"]),
            has_access=bool(data["has_access"]),
            reason=Reason(data["reason"]),
            until=None if until is None else ensure_utc(datetime.fromisoformat(str(until))),
            ends_at_until=bool(data["ends_at_until"]),
            version=int(data.get("version", 0)),
        )


@dataclass(frozen=True, slots=True)
class Entitlement:
    """The account's answer at one instant: the best access any of its subscriptions gives."""

    has_access: bool
    reason: Reason
    plan: str | None = None
    until: datetime | None = None
    subscription_id: str | None = None
    changes_at: datetime | None = None  # the next time this answer changes by itself


def access_of(sub: Subscription) -> SubscriptionAccess:
    """The access one subscription grants in its current state."""
    cancelling = sub.cancel_at_period_end
    period_end = sub.current_period_end or sub.paid_through
    match sub.state:
        case State.TRIALING:
            reason = Reason.CANCELLED_AT_PERIOD_END if cancelling else Reason.TRIAL
            until, ends = sub.trial_end or period_end, cancelling
        case State.ACTIVE:
            reason = Reason.CANCELLED_AT_PERIOD_END if cancelling else Reason.ACTIVE
            until, ends = period_end, cancelling
        case State.PAST_DUE:
            reason, until, ends = Reason.GRACE, sub.grace_until, sub.grace_until is not None
        case State.ON_HOLD:
            reason, until, ends = Reason.ON_HOLD, sub.hold_until, False
        case State.PAUSED:
            reason, until, ends = Reason.PAUSED, sub.resume_at, False
        case State.PENDING:
            reason, until, ends = Reason.PENDING, None, False
        case _:
            reason, until, ends = Reason.EXPIRED, sub.ended_at, False
    return SubscriptionAccess(
        subscription_id=sub.subscription_id,
        account_id=sub.account_id,
        plan=sub.plan,
        plan_rank=sub.plan_rank,
        state=sub.state.value,
        has_access=sub.has_access,
        reason=reason,
        until=until,
        ends_at_until=ends and until is not None,
        version=sub.version,
    )


# Without access, the answer that matters most to the subscriber comes first.
_NO_ACCESS_ORDER = (Reason.ON_HOLD, Reason.PAUSED, Reason.PENDING, Reason.EXPIRED)


def _at(entry: SubscriptionAccess, now: datetime) -> SubscriptionAccess:
    """The entry as it stands at ``now``: an access that ended by itself is gone."""
    if not (entry.has_access and entry.ends_at_until and entry.until and now >= entry.until):
        return entry
    after = Reason.EXPIRED if entry.reason is not Reason.GRACE else Reason.ON_HOLD
    return SubscriptionAccess(
        entry.subscription_id, entry.account_id, entry.plan, entry.plan_rank, entry.state,
        False, after, entry.until, False, entry.version,
    )  # fmt: skip


def resolve(entries: Iterable[SubscriptionAccess], now: datetime) -> Entitlement:
    """The account's entitlement at ``now`` from its subscriptions' entries."""
    current = [_at(e, now) for e in entries]
    if not current:
        return Entitlement(has_access=False, reason=Reason.NONE)
    granting = [e for e in current if e.has_access]
    if granting:
        far = datetime.max.replace(tzinfo=now.tzinfo)
        best = max(granting, key=lambda e: (e.plan_rank, e.until or far, e.subscription_id))
    else:
        best = min(
            current,
            key=lambda e: (_NO_ACCESS_ORDER.index(e.reason) if e.reason in _NO_ACCESS_ORDER
                           else len(_NO_ACCESS_ORDER), -e.version, e.subscription_id),
        )  # fmt: skip
    ends = [e.until for e in current if e.has_access and e.ends_at_until and e.until]
    return Entitlement(
        has_access=best.has_access,
        reason=best.reason,
        plan=best.plan,
        until=best.until,
        subscription_id=best.subscription_id,
        changes_at=min(ends) if ends else None,
    )
