"""The readout's statistics: SRM, CUPED, peeking-safe boundaries (A/A simulation), decision."""

from __future__ import annotations

import numpy as np
import pytest

from refrain_tools.experiments.analysis import (
    POCOCK_005,
    Guardrail,
    ReadoutRefused,
    compare,
    cuped,
    read,
    srm_pvalue,
)

pytestmark = pytest.mark.unit
RNG_SEED = 2027


def test_sample_ratio_mismatch_is_caught_and_refuses_the_readout() -> None:
    assert srm_pvalue([5000, 5000], [0.5, 0.5]) == pytest.approx(1.0)
    assert srm_pvalue([5000, 5300], [0.5, 0.5]) < 0.01  # chi2 = 8.74, p = 0.0031
    assert srm_pvalue([2000, 8000], [0.2, 0.8]) == pytest.approx(1.0)
    rng = np.random.default_rng(RNG_SEED)
    data = (rng.normal(size=100), rng.normal(size=100))
    with pytest.raises(ReadoutRefused, match="sample ratio mismatch"):
        read([10_000, 10_600], [0.5, 0.5], data, {})


def test_cuped_keeps_the_mean_and_removes_the_explained_variance() -> None:
    rng = np.random.default_rng(RNG_SEED)
    before = rng.normal(100, 20, size=5000)  # last month's spend, say
    after = before * 0.8 + rng.normal(0, 5, size=5000)
    adjusted = cuped(after, before)
    assert np.mean(adjusted) == pytest.approx(np.mean(after))
    assert np.var(adjusted) < 0.1 * np.var(after)


def _aa_false_positive_rate(looks: int, boundary: float, experiments: int = 400) -> float:
    """A/A: both arms from one distribution, read at ``looks`` equally spaced points."""
    rng = np.random.default_rng(RNG_SEED + looks)
    n = 1000
    hits = 0
    for _ in range(experiments):
        a, b = rng.normal(size=n), rng.normal(size=n)
        for k in range(1, looks + 1):
            m = n * k // looks
            z = compare(a[:m], b[:m], looks=1).z
            if abs(z) >= boundary:
                hits += 1
                break
    return hits / experiments


def test_aa_false_positive_rate_is_alpha_with_and_without_peeking() -> None:
    single = _aa_false_positive_rate(1, POCOCK_005[1])
    peeking = _aa_false_positive_rate(5, POCOCK_005[5])
    naive = _aa_false_positive_rate(5, POCOCK_005[1])  # peeking without the boundary
    assert 0.03 <= single <= 0.07, single
    assert 0.03 <= peeking <= 0.07, peeking
    assert naive > 0.08, naive  # what the boundary prevents (about 14% in theory)


def test_a_real_lift_ships_and_an_inferior_guardrail_stops_it() -> None:
    rng = np.random.default_rng(RNG_SEED)
    n = 20_000
    control, treatment = rng.normal(10, 3, n), rng.normal(10.5, 3, n)  # +5%
    attempts_same = (rng.normal(2, 1, n), rng.normal(2, 1, n))
    attempts_worse = (rng.normal(2, 1, n), rng.normal(2.2, 1, n))  # +10% attempts
    rule = Guardrail("attempts", lower_is_better=True, margin=0.02)
    good = read([n, n], [0.5, 0.5], (control, treatment), {"attempts": (rule, *attempts_same)})
    assert good.ship and good.primary.lift == pytest.approx(0.05, abs=0.01)
    assert good.primary.lift_low > 0 and not good.guardrails["attempts"]
    bad = read([n, n], [0.5, 0.5], (control, treatment), {"attempts": (rule, *attempts_worse)})
    assert bad.guardrails["attempts"] and not bad.ship
    flat = read([n, n], [0.5, 0.5], (control, rng.normal(10, 3, n)), {})
    assert not flat.ship


def test_an_unplanned_number_of_looks_has_no_boundary() -> None:
    with pytest.raises(ValueError, match="no Pocock boundary"):
        compare(np.ones(10), np.ones(10), looks=7)
