"""The deployed export flush records experiment exposures with the signals (shipped config).

Payment failures dated inside ``dunning_retry_timing``'s run are published to
``subscription-events`` as the ledger publishes them; one export-flushes tick posted to
``export_flush`` writes their signals and, through the same flush, one exposure per
subscriber, under the variant GrowthBook's hash gives its pseudonymous key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from refrain.adapters.bigquery import build_bigquery
from refrain.churn.pseudonym import LOCAL_PEPPER, Pseudonymizer
from refrain.domain.events import EventType, to_pubsub_message
from refrain.experiments.config import load_experiments
from refrain.settings import CloudSettings
from refrain.topology import ANALYTICS_DATASET
from tests.integration.churn.test_export_flush import (  # noqa: F401 (fixtures)
    BigQueryCalls,
    _flush_line,
    _post_tick,
    _publish,
    calls,
    tick,
)
from tests.unit.churn.factory import sample_event

IN_RUN = datetime(2027, 2, 1, 9, tzinfo=UTC)


def test_one_tick_writes_signals_and_one_exposure_per_subscriber(
    tick: FlaskClient,  # noqa: F811
    cloud: CloudSettings,
    calls: BigQueryCalls,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    accounts = [f"acct_{i}" for i in range(8)]
    keys = Pseudonymizer(LOCAL_PEPPER.encode())
    experiment = load_experiments().get("dunning_retry_timing")
    events = []
    for i, account in enumerate(accounts):
        ran = experiment.assign(keys.subscriber_key(account)).variant  # as renewal_charge does
        for month in (0, 1):  # two failed renewals each: the first one exposes
            events.append(sample_event(
                EventType.PAYMENT_FAILED, subscription_id=f"sub_{i}", sequence=month + 1,
                occurred_at=IN_RUN + timedelta(days=31 * month, hours=i), account_id=account,
                retry_variant=ran,
            ))  # fmt: skip
    hard = sample_event(EventType.PAYMENT_FAILED, subscription_id="sub_hard",
                        account_id="acct_hard", occurred_at=IN_RUN, hard_decline=True)  # fmt: skip
    events.append(hard)  # a hard decline: no retry schedule, no exposure
    _publish(cloud, [(m.data, dict(m.attributes), m.ordering_key)
                     for m in map(to_pubsub_message, events)])  # fmt: skip

    _post_tick(tick, cloud.project)

    line = _flush_line(capsys.readouterr().out)
    assert (line["exported"], line["exposures"]) == (17, 8)
    assert len(calls.writes) == 2  # one MERGE for the signals, one for the exposures
    sql = f"SELECT * FROM `{cloud.project}.{ANALYTICS_DATASET}.experiment_exposures`"
    rows = {r.subscriber_key: r for r in build_bigquery(cloud).query(sql).result()}
    assert set(rows) == {keys.subscriber_key(a) for a in accounts}
    for i, account in enumerate(accounts):
        row = rows[keys.subscriber_key(account)]
        assert row.variant == experiment.assign(row.subscriber_key).variant
        assert row.exposed_at == IN_RUN + timedelta(hours=i)
        assert row.experiment_key == "dunning_retry_timing" and row.covariate == 3.0
    assert not any(account in str(dict(r)) for r in rows.values() for account in accounts)
