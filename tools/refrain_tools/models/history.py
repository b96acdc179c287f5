"""A simulated dunning history, recorded the way Refrain records it: churn signals.

Training data must be what the product writes, not what only the simulator knows. So
the simulator's decline model (``refrain_tools.simulator.decline_model``) decides the
outcomes, and the history is written as ``SignalRow``s through the churn export's own
writer: a ``payment_failed`` signal per failed renewal (attempt 1, decline category,
hard or not), a ``dunning_retry`` per failed retry, a ``recovered`` (in grace) or
``reactivated`` (on hold) signal when a retry succeeds. The reason's recovery kind,
paydays and hazards stay inside the simulator.

Retries follow the fixed schedule (days 1, 3, 5, 7, 14, 21) with each retry moved by up
to +/- 12 hours at random: a schedule that always retries at the renewal's hour on
fixed days teaches a model nothing about other hours and days. Exploration like this
(or the experiment's smart arm) is what gives a timing model its support; say so when
reading a model trained on a history without it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

from refrain.churn.rows import SignalRow
from refrain.churn.taxonomy import TAXONOMY_VERSION
from refrain.domain.dunning import DEFAULT_POLICY
from refrain_tools.simulator.decline_model import DeclineModel, draw

MARKETS: Final = ("SE", "DE", "GB", "US", "JP", "BR")
PRICE_MINOR: Final = 13900
FAILURE_RATE: Final = 0.08
JITTER_HOURS: Final = 12.0


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def simulate_signals(
    seed: int, subscriptions: int, months: int, start: datetime
) -> Iterator[SignalRow]:
    """The payment signals of ``subscriptions`` monthly subscriptions over ``months``."""
    model = DeclineModel(seed)
    grace = DEFAULT_POLICY.grace_period
    for i in range(subscriptions):
        sid = f"sub_{seed}_{i}"
        market = MARKETS[i % len(MARKETS)]
        anchor = start + timedelta(days=i % 28, hours=(i * 7) % 24, minutes=(i * 13) % 60)
        for month in range(months):
            if draw(seed, "fails", sid, month) >= FAILURE_RATE:
                continue
            failed_at = anchor + timedelta(days=30 * month)
            reason = model.reason(sid, month)
            signal = _Signals(seed, sid, market, month)
            yield signal.row("payment_failed", failed_at, 1, reason.category, reason.hard)
            if reason.hard:
                continue
            for n, offset in enumerate(DEFAULT_POLICY.retry_offsets, start=2):
                shift = (2 * draw(seed, "jitter", sid, month, n) - 1) * JITTER_HOURS
                at = failed_at + offset + timedelta(hours=shift)
                if model.attempt_succeeds(sid, reason, market, failed_at, at, noticed=True):
                    kind = "recovered" if at - failed_at < grace else "reactivated"
                    yield signal.row(kind, at, n, None, None)
                    break
                yield signal.row("dunning_retry", at, n, reason.category, reason.hard)


class _Signals:
    """Rows of one failed period, with the keys and sequence a real export would give."""

    def __init__(self, seed: int, sid: str, market: str, period: int) -> None:
        self.seed, self.sid, self.market, self.period = seed, sid, market, period

    def row(
        self, kind: str, at: datetime, attempt: int, category: str | None, hard: bool | None
    ) -> SignalRow:
        sequence = self.period * 100 + attempt
        payment = kind in ("payment_failed", "dunning_retry")
        return SignalRow(
            signal_id=_key(self.seed, self.sid, sequence),
            signal_type=kind,
            schema_version=TAXONOMY_VERSION,
            occurred_at=at.astimezone(UTC),
            recorded_at=at.astimezone(UTC),
            subscriber_key=_key("subscriber", self.seed, self.sid),
            subscription_key=_key("subscription", self.seed, self.sid),
            sequence=sequence,
            source_event="payment_failed" if payment else "recovered",
            market=self.market,
            plan="premium",
            billing_mode="merchant_managed",
            provider="stripe",
            state="past_due" if kind != "reactivated" else "on_hold",
            currency="EUR",
            price_minor=PRICE_MINOR,
            amount_minor=PRICE_MINOR if payment else None,
            failed_attempts=attempt if payment else None,
            attempt=attempt if payment else None,
            decline_category=category,
            hard_decline=hard,
            from_state=None if payment else ("past_due" if kind == "recovered" else "on_hold"),
        )
