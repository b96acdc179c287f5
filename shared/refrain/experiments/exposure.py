"""Exposures: which unit met which experiment's decision, under which variant, and when.

A unit is *exposed* when the decision an experiment varies is taken for it: for
``dunning_retry_schedule``, when a soft-declined renewal's retry schedule is decided
(the ``payment_failed`` signal: the first failure of a period, in dunning, not a hard
decline, for which no schedule applies). Units that never reach the decision are not in
the readout; counting them would only dilute it.

Exposures travel the churn signals' batch path: the export flush turns each domain event
into a :class:`~refrain.churn.rows.SignalRow` and :class:`ExposureLog` derives the
exposures from those rows, so it sees only what the signals already hold (the
pseudonymous subscriber key, never an account id) and the pepper never leaves the one
function that has it. The variant is the deterministic GrowthBook assignment of the
subscriber key (:meth:`Experiment.assign`), so anyone can recompute it from the row.

Only where the assignment was used: the signal records the variant its decision ran
(``retry_variant`` on ``payment_failed``, set by renewal_charge, which assigns with the
same :meth:`Experiment.assignment_at` and inputs), and a row whose variant is not the
assigned one exposes nobody. That is a failure the webhook recorded first (the gateway
answered "pending" to the worker), scheduled by the fixed policy without an assignment:
a case that does not depend on the variant, so leaving it out biases neither arm.

Once per unit and experiment: a unit meets the decision at every failed renewal, so
candidates repeat. They are deduplicated in the batch (earliest kept) and by the
writer's MERGE on (experiment_key, subscriber_key), which keeps the earliest exposure
whatever order batches arrive in (``refrain.adapters.bigquery_exposures``); the readout
still takes ``MIN(exposed_at)`` per unit, which also covers two flushes racing. A
Firestore exposure document created in the decision's transaction was rejected: it costs
a write per failed renewal on the hot path and needs the pepper in the webhook too.

Pure: no Google import (the table's schema is generated from :class:`ExposureRow`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from refrain.churn.rows import SignalRow
from refrain.churn.taxonomy import SignalType
from refrain.experiments.config import Experiment, ExperimentCatalog

__all__ = [
    "EXPOSURES_TABLE",
    "ExposureLog",
    "ExposureRecorder",
    "ExposureRow",
    "ExposureSink",
    "earliest",
]

EXPOSURES_TABLE: Final = "experiment_exposures"
_DUNNING_STATES: Final = frozenset({"past_due", "on_hold"})


class ExposureRow(BaseModel):
    """One unit's first exposure to one experiment (one row per experiment and unit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment_key: str = Field(description="the experiment (experiments.toml key)")
    experiment_version: int = Field(description="configuration version the unit was assigned under")
    variant: str = Field(description="assigned variant (GrowthBook hash v2 of subscriber_key)")
    subscriber_key: str = Field(description="the unit: HMAC-SHA256(pepper, account id), hex")
    exposed_at: AwareDatetime = Field(description="when the decision used it; partition")
    decision: str = Field(description="the decision the experiment varies")
    signal_id: str = Field(description="the churn signal that recorded the decision")
    market: str | None = Field(None, description="ISO 3166 market code at exposure")
    covariate: float | None = Field(None, description="pre-exposure covariate (CUPED), if declared")


def _dunning_retry_schedule(row: SignalRow) -> bool:
    return (
        row.signal_type == SignalType.PAYMENT_FAILED
        and row.hard_decline is False
        and row.state in _DUNNING_STATES
    )


# decision -> is this signal the moment the decision was taken?
_DECISIONS: Final[dict[str, Callable[[SignalRow], bool]]] = {
    "dunning_retry_schedule": _dunning_retry_schedule,
}
# decision -> the variant the decision actually ran, as its signal records it
_RAN: Final[dict[str, Callable[[SignalRow], str | None]]] = {
    "dunning_retry_schedule": lambda row: row.retry_variant,
}
# covariate -> its value on the exposing signal (known before the decision acts)
_COVARIATES: Final[dict[str, Callable[[SignalRow], Any]]] = {
    "renewal_count": lambda row: row.renewal_count,
}


def earliest(rows: Sequence[ExposureRow]) -> list[ExposureRow]:
    """One row per (experiment, unit): the earliest exposure (then the smallest signal id)."""
    first: dict[tuple[str, str], ExposureRow] = {}
    for row in rows:
        key = (row.experiment_key, row.subscriber_key)
        seen = first.get(key)
        if seen is None or (row.exposed_at, row.signal_id) < (seen.exposed_at, seen.signal_id):
            first[key] = row
    return list(first.values())


class ExposureLog:
    """Derives exposures from signal rows, by the declared experiments."""

    def __init__(self, catalog: ExperimentCatalog) -> None:
        for experiment in catalog.experiments:
            if experiment.decision not in _DECISIONS:  # pragma: no cover - Literal guards it
                raise ValueError(f"{experiment.key}: no exposure point for {experiment.decision}")
        self._experiments = catalog.experiments

    def exposure(self, experiment: Experiment, row: SignalRow) -> ExposureRow | None:
        """The exposure ``row`` records for ``experiment``, or None (not its decision, not
        running, not eligible, outside the coverage)."""
        if not _DECISIONS[experiment.decision](row):
            return None
        assignment = experiment.assignment_at(
            row.subscriber_key, row.occurred_at, billing_mode=row.billing_mode,
            market=row.market, provider=row.provider,
        )  # fmt: skip
        if assignment is None or assignment.variant is None:
            return None
        if _RAN[experiment.decision](row) != assignment.variant:
            return None  # decided without the assignment (see the module's docstring)
        covariate = None
        if experiment.covariate is not None:
            value = _COVARIATES[experiment.covariate](row)
            covariate = None if value is None else float(value)
        return ExposureRow(
            experiment_key=experiment.key,
            experiment_version=assignment.version,
            variant=assignment.variant,
            subscriber_key=row.subscriber_key,
            exposed_at=row.occurred_at,
            decision=experiment.decision,
            signal_id=row.signal_id,
            market=row.market,
            covariate=covariate,
        )

    def exposures(self, rows: Sequence[SignalRow]) -> list[ExposureRow]:
        """Every exposure the rows record, one per (experiment, unit), the earliest."""
        found = [
            exposure
            for row in rows
            for experiment in self._experiments
            if (exposure := self.exposure(experiment, row)) is not None
        ]
        return earliest(found)


class ExposureSink(Protocol):
    def write(self, rows: Sequence[ExposureRow]) -> Any: ...


@dataclass(frozen=True, slots=True)
class ExposureRecorder:
    """The port the export uses: derive a batch's exposures and write them in one call."""

    log: ExposureLog
    sink: ExposureSink

    def record(self, signals: Sequence[SignalRow]) -> tuple[int, int]:
        """(exposures offered, rows the sink inserted or moved earlier)."""
        rows = self.log.exposures(signals)
        if not rows:
            return 0, 0
        result = self.sink.write(rows)
        return len(rows), int(getattr(result, "inserted", len(rows)))
