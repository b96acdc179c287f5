"""Experiments as declared: the shipped file, and every malformed declaration refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from refrain.domain.clock import utc
from refrain.experiments.assignment import Sticky
from refrain.experiments.config import Experiment, ExperimentCatalog, load_experiments

pytestmark = pytest.mark.unit


def _declared(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "key": "retry_timing", "seed": "retry-1", "version": 1,
        "variants": [{"key": "fixed", "weight": 0.5}, {"key": "smart", "weight": 0.5}],
        "start": "2027-01-01T00:00:00Z", "primary_metric": "recovered_revenue",
        "guardrails": [{"metric": "attempts", "direction": "lower_is_better", "margin": 0.02}],
        "planned_units_per_variant": 20000, "minimum_detectable_effect": 0.05,
        "decision": "dunning_retry_schedule",
    }  # fmt: skip
    return base | changes


def test_the_shipped_experiments_load_and_assign() -> None:
    catalog = load_experiments()
    dunning = catalog.get("dunning_retry_timing")
    assert dunning.variant_keys == ("fixed", "smart") and dunning.unit == "subscriber_key"
    assert dunning.eligibility.admits(billing_mode="merchant_managed", market="SE", provider="x")
    assert not dunning.eligibility.admits(billing_mode="provider_managed", market="SE",
                                          provider="apple")  # fmt: skip
    first = dunning.assign("sk_abc")
    assert first.variant in dunning.variant_keys and dunning.assign("sk_abc") == first


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variants": [{"key": "va", "weight": 0.5}, {"key": "vb", "weight": 0.4}]}, "sum to"),
        ({"variants": [{"key": "va", "weight": 0.5}, {"key": "va", "weight": 0.5}]}, "repeat"),
        ({"variants": [{"key": "only", "weight": 1.0}]}, "at least 2"),
        ({"stop": "2026-12-31T00:00:00Z"}, "stop must be after start"),
        ({"start": "2027-01-01T00:00:00"}, "timezone"),
        ({"unit": "account_id"}, "subscriber_key"),
        ({"key": "Bad Key"}, "pattern"),
        ({"colour": "blue"}, "Extra inputs"),
        ({"guardrails": [{"metric": "m", "direction": "up", "margin": 0.02}]}, "lower_is_better"),
        ({"planned_units_per_variant": 10}, "greater than or equal to 100"),
        ({"decision": "price_test"}, "dunning_retry_schedule"),
        ({"planned_looks": 7}, "planned_looks"),
        ({"covariate": "email"}, "renewal_count"),
    ],
)
def test_a_malformed_declaration_is_refused_naming_what_is_wrong(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Experiment.model_validate(_declared(**changes))


def test_two_experiments_never_share_a_key_or_a_seed(tmp_path: Path) -> None:
    one = _declared()
    with pytest.raises(ValidationError, match="keys repeat"):
        ExperimentCatalog.model_validate({"experiments": [one, one | {"seed": "other"}]})
    with pytest.raises(ValidationError, match="share a seed"):
        ExperimentCatalog.model_validate({"experiments": [one, one | {"key": "other_one"}]})


def test_running_window_and_a_version_bump_keep_assigned_units() -> None:
    v1 = Experiment.model_validate(_declared(stop="2027-03-01T00:00:00Z"))
    assert v1.running(utc(2027, 2, 1)) and not v1.running(utc(2027, 3, 1))
    assert not v1.running(utc(2026, 12, 31))
    v2 = Experiment.model_validate(_declared(version=2, variants=[
        {"key": "fixed", "weight": 0.1}, {"key": "smart", "weight": 0.9}]))  # fmt: skip
    for unit in (f"sk_{i}" for i in range(300)):
        first = v1.assign(unit)
        assert first.variant is not None
        kept = v2.assign(unit, Sticky(first.variant, first.version))
        assert kept.variant == first.variant and kept.version == 1 and kept.sticky
