"""What the dunning policy predicts for a population, computed without the state machine.

A deliberately plain model: per subscription, walk the tick grid and apply the
policy's own numbers (retry offsets from the renewal date, grace and hold
periods) and the sandbox payment methods' documented behaviour. Both the unit
simulation (in-memory) and the emulator simulation compare against it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from refrain.domain import DunningPolicy, Subscription
from refrain.domain.subscription import add_months
from refrain.renewals import sandbox

SUCCEEDS = {sandbox.OK, sandbox.TIMEOUT}
HARD = {sandbox.STOLEN}


@dataclass
class _Sub:
    pm: str
    anchor: datetime  # the renewal date being charged (end of the last paid period)
    cycle_anchor: datetime
    cycles: int
    state: str = "active"
    next_charge: datetime | None = None
    grace_until: datetime | None = None
    hold_until: datetime | None = None
    attempt: int = 0


def expected_counts(
    subs: Iterable[Subscription], ticks: Iterable[datetime], policy: DunningPolicy
) -> Counter[str]:
    grid = list(ticks)
    out: Counter[str] = Counter()
    for sub in subs:
        assert sub.current_period_end and sub.cycle_anchor and sub.payment_method_ref
        model = _Sub(
            sub.payment_method_ref,
            sub.current_period_end,
            sub.cycle_anchor,
            sub.cycles_since_anchor,
            next_charge=sub.current_period_end,
        )
        for t in grid:
            while _step(model, t, policy, out):
                pass
        out[f"final_{model.state}"] += 1
    return out


def _step(m: _Sub, t: datetime, policy: DunningPolicy, out: Counter[str]) -> bool:
    """One thing that is due at ``t``; False when nothing is."""
    if m.state == "past_due" and m.grace_until is not None and t >= m.grace_until:
        m.state = "on_hold"
        out["holds"] += 1
        return True
    if m.state == "on_hold" and m.hold_until is not None and t >= m.hold_until:
        m.state, m.next_charge = "expired", None
        out["expirations"] += 1
        return True
    if m.state == "expired" or m.next_charge is None or t < m.next_charge:
        return False
    m.attempt += 1
    out["attempts"] += 1
    if m.attempt > 1:
        out["retries"] += 1
    success = m.pm in SUCCEEDS or (m.pm == sandbox.RECOVER_AFTER_2 and m.attempt > 2)
    if success:
        out["renewals"] += 1
        if m.state in ("past_due", "on_hold"):
            out["recoveries"] += 1
        if m.state == "on_hold":
            m.cycle_anchor, m.cycles = t, 1  # access was suspended: a fresh period from now
        else:
            m.cycles += 1
        m.anchor = add_months(m.cycle_anchor, m.cycles)
        m.state, m.next_charge, m.attempt = "active", m.anchor, 0
        m.grace_until = m.hold_until = None
        return True
    out["declines"] += 1
    if m.state == "active":
        m.state = "past_due"
        m.grace_until = m.anchor + policy.grace_period
        m.hold_until = m.anchor + policy.grace_period + policy.hold_period
        out["past_due"] += 1
    if m.pm in HARD:
        m.next_charge = None
    else:
        m.next_charge = next((m.anchor + o for o in policy.retry_offsets if m.anchor + o > t), None)
    return True
