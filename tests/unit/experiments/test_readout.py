"""The readout over per-unit outcomes (no BigQuery): metrics, refusal, decisions, JSON."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import numpy as np
import pytest

from refrain.experiments.config import Experiment
from refrain_tools.experiments import analysis
from refrain_tools.experiments.metrics import METRICS, UnitOutcome
from refrain_tools.experiments.readout import Refused, analyze

pytestmark = pytest.mark.unit

AS_OF = datetime(2027, 3, 1, tzinfo=UTC)
EXPERIMENT = Experiment.model_validate({
    "key": "retry_timing", "seed": "retry-1", "version": 1,
    "variants": [{"key": "fixed", "weight": 0.5}, {"key": "smart", "weight": 0.5}],
    "start": "2027-01-01T00:00:00Z", "primary_metric": "failed_renewal_revenue_recovered",
    "guardrails": [{"metric": "retry_attempts_per_failed_renewal",
                    "direction": "lower_is_better", "margin": 0.02}],
    "planned_units_per_variant": 400, "minimum_detectable_effect": 0.05,
    "decision": "dunning_retry_schedule", "planned_looks": 3,
})  # fmt: skip


def _unit(
    i: int, variant: str, recovered: bool, retries: int, covariate: float | None
) -> UnitOutcome:
    return UnitOutcome(
        subscriber_key=f"k{i}", variant=variant, exposed_at=AS_OF, covariate=covariate,
        failed=1, failed_amount=13900, recovered=int(recovered),
        recovered_amount=13900 if recovered else 0, retries_failed=retries,
        involuntary=int(not recovered),
    )  # fmt: skip


def _units(n: dict[str, int], p: dict[str, float], retries: dict[str, int]) -> list[UnitOutcome]:
    rng = random.Random(3)
    out: list[UnitOutcome] = []
    for variant, count in n.items():
        for _ in range(count):
            covariate = float(rng.randrange(11))
            won = rng.random() < p[variant] + 0.05 * (covariate - 5)
            out.append(_unit(len(out), variant, won, retries[variant], covariate))
    return out


def test_metrics_per_unit() -> None:
    half = UnitOutcome("k", "fixed", AS_OF, None, 2, 20000, 1, 13900, 3, 0)
    value = {name: m.value(half) for name, m in METRICS.items()}
    assert value == {
        "failed_renewal_revenue_recovered": pytest.approx(0.695),
        "retry_attempts_per_failed_renewal": 2.0,
        "involuntary_churn_rate": 0.0,
    }
    more = UnitOutcome("k", "fixed", AS_OF, None, 1, 9900, 1, 13900, 0, 0)  # plan went up
    assert METRICS["failed_renewal_revenue_recovered"].value(more) == 1.0


def test_a_better_treatment_with_cuped_ships_and_the_lift_is_on_the_raw_control_mean() -> None:
    units = _units({"fixed": 400, "smart": 400}, {"fixed": 0.35, "smart": 0.5},
                   {"fixed": 2, "smart": 1})  # fmt: skip

    readout = analyze(EXPERIMENT, units, AS_OF)

    raw, cuped = readout.primary
    control = np.mean([u.recovered for u in units if u.variant == "fixed"])
    assert cuped.cuped and cuped.variance_removed is not None and cuped.variance_removed > 0.05
    assert cuped.lift == pytest.approx(cuped.difference / control)
    assert cuped.ci_high - cuped.ci_low < raw.ci_high - raw.ci_low
    assert cuped.boundary == 2.289 and readout.decision == "ship smart"
    assert [v.units for v in readout.variants] == [400, 400]
    assert readout.variants[0].planned_share == 1.0


def test_a_guardrail_shown_worse_stops_and_one_not_yet_shown_keeps_it_running() -> None:
    worse = _units({"fixed": 300, "smart": 300}, {"fixed": 0.35, "smart": 0.5},
                   {"fixed": 1, "smart": 3})  # fmt: skip
    readout = analyze(EXPERIMENT, worse, AS_OF)
    assert readout.decision == "stop: a guardrail is worse beyond its margin"
    assert readout.guardrails[0].harmful and readout.guardrails[0].inferior

    noisy = _units({"fixed": 60, "smart": 60}, {"fixed": 0.35, "smart": 0.35},
                   {"fixed": 2, "smart": 2})  # fmt: skip
    early = analyze(EXPERIMENT, noisy, AS_OF)
    assert early.decision == "keep running" and not early.guardrails[0].harmful


def test_a_sample_ratio_mismatch_is_refused_before_any_metric() -> None:
    units = _units({"fixed": 400, "smart": 300}, {"fixed": 0.35, "smart": 0.5},
                   {"fixed": 2, "smart": 1})  # fmt: skip
    with pytest.raises(Refused) as refused:
        analyze(EXPERIMENT, units, AS_OF)
    assert refused.value.p < analysis.SRM_ALPHA
    assert refused.value.to_json()["units"] == {"fixed": 400, "smart": 300}


def test_a_zero_control_mean_gives_null_lifts_in_json_not_nan() -> None:
    units = [_unit(i, "fixed", False, 3, 1.0) for i in range(50)]
    units += [_unit(50 + i, "smart", i % 2 == 0, 1, 1.0) for i in range(50)]
    text = json.dumps(analyze(EXPERIMENT, units, AS_OF).to_json(), allow_nan=False)
    assert json.loads(text)["primary"][0]["lift"] is None


def test_an_unknown_metric_or_an_empty_arm_is_a_clear_error() -> None:
    units = _units({"fixed": 30, "smart": 30}, {"fixed": 0.3, "smart": 0.3},
                   {"fixed": 1, "smart": 1})  # fmt: skip
    odd = EXPERIMENT.model_copy(update={"primary_metric": "happiness"})
    with pytest.raises(ValueError, match="unknown metric 'happiness'"):
        analyze(odd, units, AS_OF)
    with pytest.raises(ValueError, match="too few exposed units"):
        analyze(EXPERIMENT, [u for u in units if u.variant == "fixed"], AS_OF)


def test_pooled_cuped_keeps_the_arms_means_and_removes_explained_variance() -> None:
    rng = np.random.default_rng(1)
    x = [rng.normal(0, 1, 5000), rng.normal(0, 1, 5000)]
    y = [2 * x[0] + rng.normal(0, 1, 5000), 2 * x[1] + 0.1 + rng.normal(0, 1, 5000)]
    adjusted, removed = analysis.cuped_arms(y, x)
    assert removed == pytest.approx(0.8, abs=0.02)  # var 5 -> 1
    for raw, adj, cov in zip(y, adjusted, x, strict=True):
        assert np.mean(adj) == pytest.approx(np.mean(raw) - 2 * np.mean(cov), abs=0.05)
