"""What a readout measures: each exposed unit's outcomes from the churn signals, and the
metrics an experiment may name (``primary_metric``, ``guardrails``) over them.

One query per readout (:func:`units_sql`): each unit's first exposure
(``MIN(exposed_at)`` per unit, so a duplicate exposure row never counts a unit twice or
moves it to another variant), joined to that unit's signals from the exposure up to the
as-of time, within the experiment's eligibility (the treatment only acts on those), and
counted per unit. Everything is pseudonymous: the unit is the subscriber key.

Metrics, per unit, over the signals from its exposure up to the as-of time:

- ``failed_renewal_revenue_recovered``: the share of the failed renewals' revenue that
  was recovered: the list price of each ``recovered``/``reactivated`` signal over the
  amount of each ``payment_failed`` signal (a period's first failure), capped at 1. A
  subscriber pays in one currency, so the share is comparable across markets;
- ``retry_attempts_per_failed_renewal``: retries (failed ones, ``dunning_retry``, plus
  the successful ones, ``recovered``/``reactivated``) per failed renewal;
- ``involuntary_churn_rate``: 1 if the unit churned involuntarily (an ``expired``
  signal with ``churn_type = involuntary``), else 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from refrain.churn.rows import SIGNALS_TABLE
from refrain.experiments.config import Experiment
from refrain.experiments.exposure import EXPOSURES_TABLE

__all__ = ["METRICS", "Metric", "UnitOutcome", "query_parameters", "units_sql"]


@dataclass(frozen=True, slots=True)
class UnitOutcome:
    """One exposed unit: its variant, covariate and outcome counts up to the as-of time."""

    subscriber_key: str
    variant: str
    exposed_at: datetime
    covariate: float | None
    failed: int  # failed renewals (a period's first failure), the exposing one included
    failed_amount: int  # their amounts, minor units
    recovered: int  # recoveries (recovered + reactivated)
    recovered_amount: int  # their list prices, minor units
    retries_failed: int  # retries that failed too (dunning_retry)
    involuntary: int  # involuntary expiries

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> UnitOutcome:
        covariate = row["covariate"]
        return cls(
            subscriber_key=str(row["subscriber_key"]),
            variant=str(row["variant"]),
            exposed_at=row["exposed_at"],
            covariate=None if covariate is None else float(covariate),
            **{name: int(row[name] or 0) for name in _COUNTS},
        )


_COUNTS: Final = (
    "failed", "failed_amount", "recovered", "recovered_amount", "retries_failed", "involuntary",
)  # fmt: skip


def _revenue_recovered(u: UnitOutcome) -> float:
    if u.failed_amount <= 0:
        return 1.0 if u.recovered else 0.0
    return min(1.0, u.recovered_amount / u.failed_amount)


def _attempts(u: UnitOutcome) -> float:
    return (u.retries_failed + u.recovered) / max(1, u.failed)


@dataclass(frozen=True, slots=True)
class Metric:
    description: str
    value: Callable[[UnitOutcome], float]


METRICS: Final[dict[str, Metric]] = {
    "failed_renewal_revenue_recovered": Metric(
        "share of failed renewal revenue recovered", _revenue_recovered
    ),
    "retry_attempts_per_failed_renewal": Metric("retries per failed renewal", _attempts),
    "involuntary_churn_rate": Metric(
        "share of units churned involuntarily", lambda u: float(u.involuntary > 0)
    ),
}


def units_sql(project: str, dataset: str, experiment: Experiment) -> str:
    """Per unit: first exposure, variant, covariate and outcome counts (parameters: @key,
    @start, @as_of, @billing_modes, and @markets / @providers when the eligibility names
    them)."""
    exposures = f"`{project}.{dataset}.{EXPOSURES_TABLE}`"
    signals = f"`{project}.{dataset}.{SIGNALS_TABLE}`"
    eligible = "s.billing_mode IN UNNEST(@billing_modes)"
    if experiment.eligibility.markets:
        eligible += " AND s.market IN UNNEST(@markets)"
    if experiment.eligibility.providers:
        eligible += " AND s.provider IN UNNEST(@providers)"
    recovered = "s.signal_type IN ('recovered', 'reactivated')"
    # Table names come from code; every value travels as a parameter.
    return f"""
WITH ranked AS (
  SELECT subscriber_key, variant, covariate, exposed_at,
         ROW_NUMBER() OVER (PARTITION BY subscriber_key ORDER BY exposed_at, signal_id) AS n
  FROM {exposures}
  WHERE experiment_key = @key AND exposed_at >= @start AND exposed_at < @as_of
),
exposed AS (
  SELECT subscriber_key, variant, covariate, exposed_at FROM ranked WHERE n = 1
)
SELECT
  e.subscriber_key, e.variant, e.covariate, e.exposed_at,
  SUM(IF(s.signal_type = 'payment_failed', 1, 0)) AS failed,
  SUM(IF(s.signal_type = 'payment_failed', COALESCE(s.amount_minor, 0), 0)) AS failed_amount,
  SUM(IF({recovered}, 1, 0)) AS recovered,
  SUM(IF({recovered}, COALESCE(s.price_minor, 0), 0)) AS recovered_amount,
  SUM(IF(s.signal_type = 'dunning_retry', 1, 0)) AS retries_failed,
  SUM(IF(s.signal_type = 'expired' AND s.churn_type = 'involuntary', 1, 0)) AS involuntary
FROM exposed e
LEFT JOIN {signals} s
  ON s.subscriber_key = e.subscriber_key
  AND s.occurred_at >= e.exposed_at AND s.occurred_at < @as_of AND s.occurred_at >= @start
  AND {eligible}
GROUP BY e.subscriber_key, e.variant, e.covariate, e.exposed_at
ORDER BY e.subscriber_key
"""  # noqa: S608


def query_parameters(experiment: Experiment, as_of: datetime) -> list[tuple[str, str, Any]]:
    """(name, BigQuery type, value) for :func:`units_sql`; ARRAY<STRING> for lists."""
    params: list[tuple[str, str, Any]] = [
        ("key", "STRING", experiment.key),
        ("start", "TIMESTAMP", experiment.start),
        ("as_of", "TIMESTAMP", as_of),
        ("billing_modes", "ARRAY<STRING>", list(experiment.eligibility.billing_modes)),
    ]
    if experiment.eligibility.markets:
        params.append(("markets", "ARRAY<STRING>", list(experiment.eligibility.markets)))
    if experiment.eligibility.providers:
        params.append(("providers", "ARRAY<STRING>", list(experiment.eligibility.providers)))
    return params
