"""Which dunning variant a failed renewal runs: the experiment engine, in the charge path.

The unit is the subscriber key (HMAC of the account id under the pepper, the same key
the churn export writes), assigned by :meth:`Experiment.assignment_at`, the function the
exposure row is derived with (refrain.experiments.exposure), with the same inputs: the
failure's time (the ``payment.failed`` event's ``occurred_at``) and the subscription's
billing mode, market and provider (the event's context). So the variant an exposure row
names is the one that scheduled the retry. No running experiment, not eligible, outside
the coverage: None, the fixed schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from refrain.domain.subscription import Subscription
from refrain.experiments.assignment import Assignment
from refrain.experiments.config import Experiment

__all__ = ["DECISION", "RetryAssigner", "SubscriberKeys"]

DECISION: Final = "dunning_retry_schedule"


class SubscriberKeys(Protocol):
    def subscriber_key(self, account_id: str) -> str: ...


@dataclass(frozen=True, slots=True)
class RetryAssigner:
    experiments: Sequence[Experiment]  # the declared ones; only DECISION's are consulted
    keys: SubscriberKeys

    def assign(self, sub: Subscription, at: datetime) -> Assignment | None:
        """The first running experiment on the retry schedule that takes this unit."""
        unit: str | None = None
        for experiment in self.experiments:
            if experiment.decision != DECISION:
                continue
            unit = unit or self.keys.subscriber_key(sub.account_id)
            found = experiment.assignment_at(
                unit, at, billing_mode=sub.billing_mode.value, market=sub.market,
                provider=sub.provider,
            )  # fmt: skip
            if found is not None:
                return found
        return None
