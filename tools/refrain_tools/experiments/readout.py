"""An experiment's readout: exposed units and their outcomes in, the decision out.

:func:`fetch_units` reads BigQuery (one query, :mod:`refrain_tools.experiments.metrics`);
:func:`analyze` is pure and applies :mod:`refrain_tools.experiments.analysis` in order:

1. sample ratio: units per variant against the declared weights; p < 0.001 refuses the
   readout (:class:`Refused`): an assignment or logging fault, no metric is shown;
2. per variant: units, the primary metric's mean with its 95% interval, the share of
   the planned units reached;
3. each treatment against the control (the first variant): the primary metric raw and
   with CUPED (theta pooled over the arms; a unit without the covariate gets the mean),
   Welch's difference, relative lift and interval at the Pocock boundary for the
   experiment's ``planned_looks``;
4. guardrails: non-inferiority within each declared margin (an interval still too wide
   is "not shown" and blocks shipping; an interval wholly beyond the margin is harm);
5. the decision: ``ship`` only when the primary (CUPED when there is a covariate)
   improved significantly at the boundary and every guardrail is shown non-inferior;
   ``stop`` when a guardrail is shown worse beyond its margin; ``keep running`` until
   every variant reached its planned units, then ``do not ship``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from refrain.experiments.config import Experiment
from refrain_tools.experiments import analysis
from refrain_tools.experiments.metrics import METRICS, UnitOutcome, query_parameters, units_sql

__all__ = ["Readout", "Refused", "analyze", "fetch_units"]


@dataclass(frozen=True)
class VariantSummary:
    variant: str
    units: int
    expected_share: float
    mean: float
    ci_low: float
    ci_high: float
    planned_share: float  # units / planned_units_per_variant


@dataclass(frozen=True)
class Effect:
    """One metric, one treatment against the control."""

    metric: str
    treatment: str
    control_mean: float
    treatment_mean: float
    difference: float
    ci_low: float
    ci_high: float
    lift: float
    lift_low: float
    lift_high: float
    z: float
    boundary: float
    significant: bool
    cuped: bool = False
    variance_removed: float | None = None  # CUPED only
    inferior: bool | None = None  # guardrails: non-inferiority not shown (blocks shipping)
    harmful: bool | None = None  # guardrails: shown worse beyond the margin (stops it)
    margin: float | None = None
    direction: str | None = None


@dataclass(frozen=True)
class Readout:
    experiment: str
    version: int
    as_of: str
    primary_metric: str
    srm_p: float
    variants: list[VariantSummary]
    primary: list[Effect]  # raw, then CUPED when a covariate was recorded
    guardrails: list[Effect]
    planned_looks: int
    decision: str
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = _finite({"refused": False, **asdict(self)})
        return out


def _finite(value: Any) -> Any:
    """NaN and infinities (a relative lift over a zero mean) as null: JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class Refused(RuntimeError):
    """A sample-ratio mismatch: the readout is not shown."""

    def __init__(self, experiment: Experiment, counts: Sequence[int], p: float) -> None:
        super().__init__(f"sample ratio mismatch: p = {p:.2e} < {analysis.SRM_ALPHA}")
        self.experiment = experiment.key
        self.counts = dict(zip(experiment.variant_keys, counts, strict=True))
        self.weights = dict(zip(experiment.variant_keys, experiment.weights, strict=True))
        self.p = p

    def to_json(self) -> dict[str, Any]:
        return {
            "refused": True, "experiment": self.experiment, "reason": str(self),
            "srm_p": self.p, "units": self.counts, "weights": self.weights,
        }  # fmt: skip


def fetch_units(
    client: Any, experiment: Experiment, as_of: datetime, dataset: str
) -> list[UnitOutcome]:
    """The exposed units and their outcome counts (a ``google.cloud.bigquery.Client``)."""
    from google.cloud import bigquery

    params: list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter] = []
    for name, type_, value in query_parameters(experiment, as_of):
        if type_.startswith("ARRAY<"):
            params.append(bigquery.ArrayQueryParameter(name, type_[6:-1], value))
        else:
            params.append(bigquery.ScalarQueryParameter(name, type_, value))
    job = client.query(
        units_sql(client.project, dataset, experiment),
        job_config=bigquery.QueryJobConfig(query_parameters=params),
    )
    return [UnitOutcome.from_row(dict(row.items())) for row in job.result()]


def _values(units: Sequence[UnitOutcome], metric: str) -> np.ndarray:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(sorted(METRICS))}")
    value = METRICS[metric].value
    return np.array([value(u) for u in units], dtype=float)


def _effect(metric: str, treatment: str, c: analysis.Comparison, **extra: Any) -> Effect:
    return Effect(
        metric, treatment, c.control_mean, c.treatment_mean, c.difference, c.ci_low, c.ci_high,
        c.lift, c.lift_low, c.lift_high, c.z, c.boundary, c.significant, **extra,
    )  # fmt: skip


def _covariates(units: Sequence[UnitOutcome]) -> np.ndarray | None:
    """The recorded covariate per unit, a missing one replaced by the mean; None if none."""
    known = [u.covariate for u in units if u.covariate is not None]
    if not known:
        return None
    fill = float(np.mean(known))
    return np.array([fill if u.covariate is None else u.covariate for u in units], dtype=float)


def _reason(variant: str, read: analysis.Readout) -> str:
    if read.ship:
        return f"{variant}: primary improved at |z| >= {read.primary.boundary}, guardrails ok"
    worse = [m for m, bad in read.guardrails.items() if bad]
    primary = (
        "primary improved"
        if read.primary.significant and read.primary.difference > 0
        else f"primary |z| = {abs(read.primary.z):.2f} < {read.primary.boundary}"
        if not read.primary.significant
        else "primary significantly worse"
    )
    return f"{variant}: {primary}" + (
        f"; non-inferiority not shown: {', '.join(worse)}" if worse else ""
    )


def analyze(experiment: Experiment, units: Sequence[UnitOutcome], as_of: datetime) -> Readout:
    """The readout; raises :class:`Refused` on a sample-ratio mismatch."""
    keys = experiment.variant_keys
    arms = [[u for u in units if u.variant == k] for k in keys]
    counts = [len(a) for a in arms]
    if any(c < 2 for c in counts):
        raise ValueError(f"{experiment.key}: too few exposed units per variant to read: {counts}")
    srm = analysis.srm_pvalue(counts, experiment.weights)
    if srm < analysis.SRM_ALPHA:
        raise Refused(experiment, counts, srm)
    looks = experiment.planned_looks
    primary = [_values(a, experiment.primary_metric) for a in arms]
    summaries = []
    for key, weight, arm, values in zip(keys, experiment.weights, arms, primary, strict=True):
        mean, low, high = analysis.mean_interval(values)
        share = len(arm) / experiment.planned_units_per_variant
        summaries.append(VariantSummary(key, len(arm), weight, mean, low, high, share))
    covariates = _covariates(units)
    adjusted, removed = primary, None
    if covariates is not None:
        by_unit = dict(zip((u.subscriber_key for u in units), covariates, strict=True))
        arm_covariates = [np.array([by_unit[u.subscriber_key] for u in a]) for a in arms]
        adjusted, removed = analysis.cuped_arms(primary, arm_covariates)
    effects: list[Effect] = []
    guards: list[Effect] = []
    ship_variants, reasons = [], []
    for index in range(1, len(keys)):
        raw = analysis.compare(primary[0], primary[index], looks=looks)
        effects.append(_effect(experiment.primary_metric, keys[index], raw))
        if removed is not None:
            adj = analysis.compare(adjusted[0], adjusted[index], looks=looks,
                                   baseline=float(np.mean(primary[0])))  # fmt: skip
            effects.append(_effect(experiment.primary_metric, keys[index], adj, cuped=True,
                                   variance_removed=removed))  # fmt: skip
        rules = {
            g.metric: (
                analysis.Guardrail(g.metric, g.direction == "lower_is_better", g.margin),
                _values(arms[0], g.metric),
                _values(arms[index], g.metric),
            )
            for g in experiment.guardrails
        }
        read = analysis.read(counts, experiment.weights, (adjusted[0], adjusted[index]), rules,
                             looks=looks)  # fmt: skip
        for g in experiment.guardrails:
            rule, control, treatment = rules[g.metric]
            comparison = analysis.compare(control, treatment, looks=looks)
            guards.append(_effect(g.metric, keys[index], comparison,
                                  inferior=read.guardrails[g.metric],
                                  harmful=analysis.harmful(comparison, rule), margin=g.margin,
                                  direction=g.direction))  # fmt: skip
        reasons.append(_reason(keys[index], read))
        if read.ship:
            ship_variants.append(keys[index])
    if ship_variants:
        decision = f"ship {ship_variants[0]}"
    elif any(g.harmful for g in guards):
        decision = "stop: a guardrail is worse beyond its margin"
    elif all(c >= experiment.planned_units_per_variant for c in counts):
        decision = "do not ship: planned units reached without a shippable result"
    else:
        decision = "keep running"
    return Readout(
        experiment.key, experiment.version, as_of.isoformat(), experiment.primary_metric, srm,
        summaries, effects, guards, looks, decision, reasons,
    )  # fmt: skip
