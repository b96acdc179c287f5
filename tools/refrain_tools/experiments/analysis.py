"""Reading an experiment: sample-ratio check, CUPED, a test valid under peeking, the decision.

Built on SciPy's distributions and tests (``scipy.stats``): the sample-ratio mismatch
check is Pearson's chi-squared goodness of fit (``chisquare``) against the declared
weights; the metric's difference is Welch's (unequal variances), its confidence
interval from the Student t quantile; CUPED (Deng et al., 2013) removes the part of
the metric a pre-exposure covariate explains (theta = cov(Y, X) / var(X), pooled over
arms). Peeking: an experiment read K times at equally spaced looks uses Pocock's
constant boundary for K looks (Pocock 1977, Table 1, two-sided alpha 0.05), so the
false-positive rate over all looks stays at alpha; a single read uses the ordinary
two-sided critical value. Guardrails are non-inferiority tests: the confidence bound
on the relative change must stay inside the declared margin.

Decision rule: ship the treatment only when the sample ratio is sound (p >= 0.001),
the primary metric improved significantly at the boundary for this look, and no
guardrail is inferior.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import sqrt

import numpy as np
from scipy import stats

SRM_ALPHA = 0.001
# Pocock (1977), two-sided alpha = 0.05: the constant |z| boundary at each of K equally
# spaced looks that keeps the overall false-positive rate at 5%.
POCOCK_005 = {1: 1.960, 2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413, 10: 2.555}


class ReadoutRefused(RuntimeError):
    """The data cannot be read (a sample-ratio mismatch): fix the assignment first."""


def srm_pvalue(counts: Sequence[int], weights: Sequence[float]) -> float:
    """Chi-squared goodness of fit of the observed units per variant to the weights."""
    total = sum(counts)
    expected = [total * w / sum(weights) for w in weights]
    return float(stats.chisquare(counts, expected).pvalue)


def cuped(metric: np.ndarray, covariate: np.ndarray) -> np.ndarray:
    """The metric minus what the pre-exposure covariate explains (same mean)."""
    variance = float(np.var(covariate, ddof=1))
    if variance == 0:
        return metric
    theta = float(np.cov(metric, covariate, ddof=1)[0, 1]) / variance
    return metric - theta * (covariate - float(np.mean(covariate)))


@dataclass(frozen=True)
class Comparison:
    control_mean: float
    treatment_mean: float
    difference: float
    ci_low: float
    ci_high: float
    z: float
    boundary: float
    lift: float  # relative: difference / control mean
    lift_low: float
    lift_high: float

    @property
    def significant(self) -> bool:
        return abs(self.z) >= self.boundary


def compare(
    control: np.ndarray, treatment: np.ndarray, *, looks: int = 1, baseline: float | None = None
) -> Comparison:
    """Welch difference of means, with the boundary for ``looks`` equally spaced reads.

    The relative lift divides by ``baseline`` when given (the unadjusted control mean,
    for CUPED-adjusted arms), else by the control arm's mean.
    """
    if looks not in POCOCK_005:
        raise ValueError(f"no Pocock boundary for {looks} looks; use one of {sorted(POCOCK_005)}")
    m0, m1 = float(np.mean(control)), float(np.mean(treatment))
    se = sqrt(float(np.var(control, ddof=1)) / len(control)
              + float(np.var(treatment, ddof=1)) / len(treatment))  # fmt: skip
    diff = m1 - m0
    boundary = POCOCK_005[looks]
    z = diff / se if se > 0 else 0.0
    low, high = diff - boundary * se, diff + boundary * se
    base = m0 if baseline is None else baseline
    base = base if base != 0 else float("nan")
    return Comparison(m0, m1, diff, low, high, z, boundary, diff / base, low / base, high / base)


@dataclass(frozen=True)
class Guardrail:
    metric: str
    lower_is_better: bool
    margin: float  # relative


def inferior(comparison: Comparison, guardrail: Guardrail) -> bool:
    """Non-inferiority fails when the bound on the harmful side crosses the margin (or
    is undefined: a control mean of 0 has no relative change)."""
    if guardrail.lower_is_better:
        return not comparison.lift_high <= guardrail.margin
    return not comparison.lift_low >= -guardrail.margin


def harmful(comparison: Comparison, guardrail: Guardrail) -> bool:
    """Shown worse: the whole interval lies beyond the margin on the harmful side.

    Stronger than :func:`inferior` (which only says non-inferiority is not shown yet, as
    with any interval still too wide): this is the one a running experiment stops for.
    """
    if guardrail.lower_is_better:
        return comparison.lift_low > guardrail.margin
    return comparison.lift_high < -guardrail.margin


@dataclass(frozen=True)
class Readout:
    srm_p: float
    primary: Comparison
    guardrails: Mapping[str, bool]  # metric -> inferior
    ship: bool


def read(
    counts: Sequence[int],
    weights: Sequence[float],
    primary: tuple[np.ndarray, np.ndarray],
    guardrails: Mapping[str, tuple[Guardrail, np.ndarray, np.ndarray]],
    *,
    looks: int = 1,
) -> Readout:
    """The decision: ship only if sound, significantly better, and no guardrail inferior."""
    srm = srm_pvalue(counts, weights)
    if srm < SRM_ALPHA:
        raise ReadoutRefused(f"sample ratio mismatch: p = {srm:.2e} < {SRM_ALPHA}")
    result = compare(*primary, looks=looks)
    worse = {
        name: inferior(compare(control, treatment, looks=looks), rule)
        for name, (rule, control, treatment) in guardrails.items()
    }
    ship = result.significant and result.difference > 0 and not any(worse.values())
    return Readout(srm, result, worse, ship)


def cuped_arms(
    arms: Sequence[np.ndarray], covariates: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], float]:
    """CUPED over all arms with one pooled theta; (adjusted arms, share of variance removed).

    Pooling keeps the adjustment the same function of the covariate in every arm, so a
    covariate independent of the assignment moves no arm's mean in expectation.
    """
    metric = np.concatenate(arms)
    adjusted = cuped(metric, np.concatenate(covariates))
    raw_var = float(np.var(metric, ddof=1))
    removed = 1 - float(np.var(adjusted, ddof=1)) / raw_var if raw_var > 0 else 0.0
    bounds = np.cumsum([len(a) for a in arms])[:-1]
    return list(np.split(adjusted, bounds)), removed


def mean_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the Student t interval of one arm's mean."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    se = float(np.std(values, ddof=1)) / sqrt(len(values))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1)) * se
    return mean, mean - half, mean + half
