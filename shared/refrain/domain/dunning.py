"""Dunning policy: when to retry a failed renewal and when to give up.

Everything is anchored on the *renewal date* (the end of the last paid
period, ``current_period_end``), not on when a failure notification happened
to arrive, so the schedule is the same however late or often webhooks come:

* retry ``i`` is due at ``anchor + retry_offsets[i]`` (default days 1, 3, 5,
  7, 14, 21 after the renewal date);
* grace period: ``anchor .. anchor + grace_days`` the subscription is
  ``past_due`` and keeps access;
* account hold: ``grace_until .. grace_until + hold_days`` it is ``on_hold``,
  access suspended, retries continue;
* when the hold is over without a successful charge it ``expired``
  (involuntary churn).

A hard decline (or one the card network says never to retry) stops automatic
retries (``next_charge_at`` is cleared) until the payment method is updated; the
grace and hold clocks keep running.

These offsets are the ``fixed`` retry policy; the dunning experiment's ``smart``
variant picks other times inside the same windows and budget
(``refrain.domain.retry``, ``refrain.domain.smart_retry``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

__all__ = ["DEFAULT_POLICY", "DunningPolicy"]


@dataclass(frozen=True, slots=True)
class DunningPolicy:
    retry_offsets: tuple[timedelta, ...] = field(
        default=tuple(timedelta(days=d) for d in (1, 3, 5, 7, 14, 21))
    )
    grace_period: timedelta = timedelta(days=7)
    hold_period: timedelta = timedelta(days=23)
    charge_lease: timedelta = timedelta(hours=1)
    """How long a requested charge may stay without an outcome before the
    renewal tick re-drives it with the *same* idempotency key."""
    revoke_on_chargeback: bool = True

    def __post_init__(self) -> None:
        offsets = self.retry_offsets
        if any(o <= timedelta(0) for o in offsets):
            raise ValueError("retry offsets must be positive")
        if any(b <= a for a, b in pairwise(offsets)):
            raise ValueError("retry offsets must be strictly increasing")
        if self.grace_period < timedelta(0) or self.hold_period < timedelta(0):
            raise ValueError("grace and hold periods must not be negative")
        if offsets and offsets[-1] >= self.grace_period + self.hold_period:
            raise ValueError("every retry must fall before the hold is over")
        if self.charge_lease <= timedelta(0):
            raise ValueError("charge lease must be positive")

    @classmethod
    def from_days(
        cls, retry_days: tuple[int, ...], grace_days: int, hold_days: int
    ) -> DunningPolicy:
        return cls(
            retry_offsets=tuple(timedelta(days=d) for d in retry_days),
            grace_period=timedelta(days=grace_days),
            hold_period=timedelta(days=hold_days),
        )

    def grace_until(self, anchor: datetime) -> datetime:
        return anchor + self.grace_period

    def hold_until(self, anchor: datetime) -> datetime:
        return anchor + self.grace_period + self.hold_period

    def next_retry_at(self, anchor: datetime, after: datetime) -> datetime | None:
        """First scheduled retry strictly after ``after``; None once the schedule is spent."""
        for offset in self.retry_offsets:
            due = anchor + offset
            if due > after:
                return due
        return None


DEFAULT_POLICY = DunningPolicy()
