"""The dunning experiment in the charge worker: the assigned variant's policy schedules the
retry, the log line names it, and the exposure row derived from the signal agrees."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from refrain.churn.pseudonym import Pseudonymizer
from refrain.churn.rows import SignalRow
from refrain.churn.transform import SignalTransformer
from refrain.domain import DEFAULT_POLICY, EventType, ManualClock, State, classify_stripe
from refrain.domain.smart_retry import decide_retry
from refrain.experiments.config import Experiment, ExperimentCatalog
from refrain.experiments.exposure import ExposureLog
from refrain.renewals import sandbox
from refrain.renewals.assignment import RetryAssigner
from tests.unit.renewals.harness import harness
from tests.unit.renewals.test_worker import DUE, message_for, sub_with

pytestmark = pytest.mark.unit
KEYS = Pseudonymizer(b"unit-test-pepper-0123456789")


def _experiment(**changes: Any) -> Experiment:
    base: dict[str, Any] = {
        "key": "dunning_retry_timing", "seed": "retry-unit", "version": 1,
        "variants": [{"key": "fixed", "weight": 0.5}, {"key": "smart", "weight": 0.5}],
        "start": DUE - timedelta(days=30), "primary_metric": "failed_renewal_revenue_recovered",
        "planned_units_per_variant": 20000, "minimum_detectable_effect": 0.05,
        "decision": "dunning_retry_schedule",
    }  # fmt: skip
    return Experiment.model_validate(base | changes)


def _sid_in(experiment: Experiment, variant: str) -> str:
    """A subscription whose account the experiment assigns to ``variant``."""
    for i in range(200):
        sid = f"sub_{variant}_{i}"
        if experiment.assign(KEYS.subscriber_key(f"acct_{sid}")).variant == variant:
            return sid
    raise AssertionError(f"no unit in {variant}")


@pytest.mark.parametrize("variant", ["fixed", "smart"])
def test_the_assigned_variant_schedules_the_retry_and_the_exposure_names_it(variant: str) -> None:
    experiment = _experiment()
    sid = _sid_in(experiment, variant)
    h = harness([sub_with(sandbox.INSUFFICIENT_FUNDS, sid)], ManualClock(DUE))
    h.worker.assigner = RetryAssigner((experiment,), KEYS)

    report = h.worker.handle(message_for(h, sid))

    sub = h.ledger.subs[sid]
    assert report.outcome == "declined" and sub.state is State.PAST_DUE
    failed = next(e for e in report.events if e.type is EventType.PAYMENT_FAILED)
    decline = classify_stripe("card_declined", "insufficient_funds")  # what the sandbox says
    expected = decide_retry(
        variant, DEFAULT_POLICY, decline=decline, anchor=DUE, failed_at=failed.occurred_at,
        failed_attempts=1, market="SE",
    )  # fmt: skip
    assert sub.next_charge_at == expected.at is not None
    if variant == "fixed":
        assert sub.next_charge_at == DUE + DEFAULT_POLICY.retry_offsets[0]
    assert (report.retry_variant, report.retry_policy) == (variant, f"{variant}/1")
    assert failed.payload["retry_policy"] == f"{variant}/1"
    line = json.loads(h.log.getvalue().strip().splitlines()[-1])
    assert (line["retry_variant"], line["retry_policy"]) == (variant, f"{variant}/1")
    assert "acct_" not in h.log.getvalue()  # the unit's account never reaches the log

    row = SignalTransformer(KEYS).transform(failed)
    assert isinstance(row, SignalRow)
    [exposure] = ExposureLog(ExperimentCatalog(experiments=(experiment,))).exposures([row])
    assert exposure.variant == variant == report.retry_variant


def test_no_running_experiment_runs_the_fixed_schedule() -> None:
    experiment = _experiment(start=DUE + timedelta(days=1))  # starts tomorrow
    sid = _sid_in(_experiment(), "smart")
    h = harness([sub_with(sandbox.INSUFFICIENT_FUNDS, sid)], ManualClock(DUE))
    h.worker.assigner = RetryAssigner((experiment,), KEYS)
    report = h.worker.handle(message_for(h, sid))
    assert report.retry_variant is None and report.retry_policy == "fixed/1"
    assert h.ledger.subs[sid].next_charge_at == DUE + DEFAULT_POLICY.retry_offsets[0]
