"""Exposures derived from signal rows: when a unit is exposed, to what, and only once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from refrain.churn.export import ChurnExporter
from refrain.churn.pseudonym import Pseudonymizer
from refrain.churn.rows import SignalRow, bigquery_fields
from refrain.churn.transform import SignalTransformer
from refrain.domain.events import EventType, to_pubsub_message
from refrain.experiments.config import Experiment, ExperimentCatalog
from refrain.experiments.exposure import ExposureLog, ExposureRecorder, ExposureRow, earliest
from refrain.push_envelope import PushMessage
from tests.unit.churn.factory import BASE, T0, sample_event

pytestmark = pytest.mark.unit

KEYS = Pseudonymizer(b"unit-test-pepper-0123456789")
TRANSFORMER = SignalTransformer(KEYS)


def _experiment(**changes: Any) -> Experiment:
    base: dict[str, Any] = {
        "key": "retry_timing", "seed": "retry-1", "version": 3,
        "variants": [{"key": "fixed", "weight": 0.5}, {"key": "smart", "weight": 0.5}],
        "start": T0 - timedelta(days=1), "primary_metric": "failed_renewal_revenue_recovered",
        "planned_units_per_variant": 20000, "minimum_detectable_effect": 0.05,
        "decision": "dunning_retry_schedule", "covariate": "renewal_count",
    }  # fmt: skip
    return Experiment.model_validate(base | changes)


def _log(*experiments: Experiment) -> ExposureLog:
    return ExposureLog(ExperimentCatalog(experiments=experiments or (_experiment(),)))


def _ran(account: str, experiment: Experiment | None = None) -> str | None:
    """The variant renewal_charge ran for ``account`` (it assigns as the exposure does)."""
    return (experiment or _experiment()).assign(KEYS.subscriber_key(account)).variant


def _failed(account: str = "acct_1", days: int = 0, sequence: int = 5, **payload: Any) -> SignalRow:
    payload.setdefault("retry_variant", _ran(account))
    event = sample_event(EventType.PAYMENT_FAILED, subscription_id=f"sub_{account}",
                         sequence=sequence, occurred_at=T0 + timedelta(days=days),
                         account_id=account, **payload)  # fmt: skip
    row = TRANSFORMER.transform(event)
    assert isinstance(row, SignalRow)
    return row


def test_a_soft_declined_renewal_exposes_its_subscriber_under_the_hashed_variant() -> None:
    experiment = _experiment()
    row = _failed(renewal_count=7)

    [exposure] = _log(experiment).exposures([row])

    assert exposure.subscriber_key == KEYS.subscriber_key("acct_1") == row.subscriber_key
    assert exposure.variant == experiment.assign(row.subscriber_key).variant
    assert (exposure.experiment_key, exposure.experiment_version) == ("retry_timing", 3)
    assert (exposure.exposed_at, exposure.signal_id) == (row.occurred_at, row.signal_id)
    assert (exposure.covariate, exposure.market, exposure.decision) == (
        7.0, "SE", "dunning_retry_schedule"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"hard_decline": True}, "a hard decline: no retry schedule to vary"),
        ({"state": "pending"}, "a checkout payment, not a renewal"),
        ({"failed_attempts": 2}, "a retry that failed: the schedule was decided before"),
        ({"billing_mode": "provider_managed"}, "not eligible: the provider retries"),
    ],
)
def test_no_exposure_where_the_decision_is_not_taken_or_not_ours(
    payload: dict[str, Any], why: str
) -> None:
    assert _log().exposures([_failed(**payload)]) == [], why


def test_no_exposure_outside_the_run_the_eligibility_or_the_coverage() -> None:
    row = _failed()
    assert _log(_experiment(start=T0 + timedelta(hours=1))).exposures([row]) == []
    assert _log(_experiment(stop=T0)).exposures([row]) == []
    assert _log(_experiment(eligibility={"markets": ["DE"]})).exposures([row]) == []
    thin = _experiment(coverage=0.2)
    rows = [_failed(f"acct_{i}", retry_variant=_ran(f"acct_{i}", thin)) for i in range(200)]
    exposed = {e.subscriber_key for e in _log(thin).exposures(rows)}
    assigned = {r.subscriber_key for r in rows if thin.assign(r.subscriber_key).variant}
    assert exposed == assigned and 10 < len(exposed) < 70  # ~20% of 200


def test_a_unit_is_exposed_once_per_experiment_at_its_first_failed_renewal() -> None:
    other = _experiment(key="other_test", seed="other-1")
    # a unit both experiments put in the same variant (one schedule ran for both)
    unit = next(a for a in (f"acct_{i}" for i in range(50)) if _ran(a) == _ran(a, other))
    rows = [_failed(unit, days=40, sequence=9), _failed(unit, days=5, sequence=3),
            _failed(unit, days=70)]  # fmt: skip

    exposures = _log(_experiment(), other).exposures(rows)

    assert sorted((e.experiment_key, e.exposed_at) for e in exposures) == [
        ("other_test", T0 + timedelta(days=5)),
        ("retry_timing", T0 + timedelta(days=5)),
    ]


def test_no_exposure_where_the_decision_did_not_run_the_assigned_variant() -> None:
    """The webhook recorded the failure first: fixed schedule, no assignment consulted."""
    assigned = _ran("acct_1")
    other = "fixed" if assigned == "smart" else "smart"
    assert _log().exposures([_failed(retry_variant=None)]) == []
    assert _log().exposures([_failed(retry_variant=other)]) == []
    assert len(_log().exposures([_failed(retry_variant=assigned)])) == 1


def test_earliest_is_independent_of_order() -> None:
    rows = [_failed(days=d, sequence=d + 1) for d in (9, 2, 2, 5)]
    exposures = _log().exposures(rows)
    assert earliest(list(reversed(exposures))) == earliest(exposures) == exposures
    assert len(exposures) == 1 and exposures[0].exposed_at == T0 + timedelta(days=2)


def test_assignment_splits_units_by_the_declared_weights() -> None:
    weights = [{"key": "fixed", "weight": 0.8}, {"key": "smart", "weight": 0.2}]
    skewed = _experiment(variants=weights, version=2)
    rows = [_failed(f"acct_{i}", retry_variant=_ran(f"acct_{i}", skewed)) for i in range(2000)]
    smart = sum(e.variant == "smart" for e in _log(skewed).exposures(rows))
    assert 340 < smart < 460  # 400 expected; 3 sigma is ~54


def test_an_exposure_holds_no_personal_data() -> None:
    account = BASE["account_id"]
    row = _failed(account=account)
    [exposure] = _log().exposures([row])
    assert account not in exposure.model_dump_json()
    assert [f[0] for f in bigquery_fields(ExposureRow)] == list(ExposureRow.model_fields)
    assert not any(w in n for n in ExposureRow.model_fields for w in ("account", "email", "name"))


class _Sink:
    def __init__(self, fail: bool = False) -> None:
        self.rows: list[Any] = []
        self.fail = fail

    def write(self, rows: Any) -> None:
        if self.fail:
            raise ConnectionError("BigQuery unavailable")
        self.rows.extend(rows)


def _message(sequence: int, **payload: Any) -> PushMessage:
    payload.setdefault("retry_variant", _ran(BASE["account_id"]))
    event = sample_event(EventType.PAYMENT_FAILED, sequence=sequence, **payload)
    m = to_pubsub_message(event)
    return PushMessage(m.data, dict(m.attributes), f"m{sequence}")


def test_the_export_writes_a_batchs_exposures_after_its_signals() -> None:
    signals, exposures = _Sink(), _Sink()
    exporter = ChurnExporter(TRANSFORMER, signals, ExposureRecorder(_log(), exposures))

    report = exporter.export([_message(1), _message(2, failed_attempts=2), _message(3)])

    assert len(signals.rows) == 3 and report.exposures == 1 == len(exposures.rows)
    assert exposures.rows[0].signal_id == signals.rows[0].signal_id
    single = ChurnExporter(TRANSFORMER, _Sink(), ExposureRecorder(_log(), exposures))
    assert single.export_one(_message(4)).exposures == 1


def test_an_exposure_write_failure_fails_the_batch_so_it_is_redelivered() -> None:
    exporter = ChurnExporter(TRANSFORMER, _Sink(), ExposureRecorder(_log(), _Sink(fail=True)))
    with pytest.raises(ConnectionError):
        exporter.export([_message(1)])
