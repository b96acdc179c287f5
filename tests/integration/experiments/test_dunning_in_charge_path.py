"""The dunning experiment on the local stack, from the declined renewal to the exposure row.

Two subscriptions whose subscriber keys the declared experiment (experiments.toml) puts
in ``smart`` and ``fixed`` renew inside its run and are declined (insufficient funds)
by the sandbox gateway. The charge worker, built by the composition root on the Firestore
and Pub/Sub emulators, must schedule each retry by its variant's policy; the events it
publishes then go through the deployed churn export into bqemulator, whose exposure row
must name the variant that scheduled the retry.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from refrain.adapters.bigquery import build_bigquery
from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import SUBSCRIPTIONS
from refrain.adapters.firestore_renewals import seed_subscriptions
from refrain.churn.pseudonym import Pseudonymizer, load_pepper
from refrain.domain import DEFAULT_POLICY, ManualClock, classify_stripe
from refrain.domain.smart_retry import decide_retry
from refrain.experiments.config import load_experiments
from refrain.observability import get_logger
from refrain.renewals import sandbox
from refrain.renewals.gateway import GatewayRouter
from refrain.renewals.sandbox import SandboxGateway
from refrain.settings import CloudSettings
from refrain.topology import ANALYTICS_DATASET
from refrain_tools.renewals.inline import build_inline
from refrain_tools.renewals.population import active_subscription
from tests.integration.churn.test_export_flush import (  # noqa: F401 (fixtures)
    BigQueryCalls,
    _post_tick,
    calls,
    tick,
)

pytestmark = pytest.mark.integration
PERIOD_START = datetime(2027, 1, 1, 9, tzinfo=UTC)  # renews 2027-02-01, inside the run
DUE = datetime(2027, 2, 1, 9, tzinfo=UTC)


def _at(stored: dict[str, Any] | None) -> datetime:
    return datetime.fromisoformat((stored or {})["next_charge_at"])


def _sid_in(variant: str, keys: Pseudonymizer) -> str:
    experiment = load_experiments().get("dunning_retry_timing")
    for i in range(500):
        sid = f"sub_{variant}_{i}"
        if experiment.assign(keys.subscriber_key(f"acct_{sid}")).variant == variant:
            return sid
    raise AssertionError(f"no unit in {variant}")


def test_each_variant_schedules_its_retry_and_its_exposure_row_names_it(
    tick: FlaskClient,  # noqa: F811
    cloud: CloudSettings,
    calls: BigQueryCalls,  # noqa: F811
) -> None:
    keys = Pseudonymizer(load_pepper(local=True))  # what both functions load locally
    sids = {variant: _sid_in(variant, keys) for variant in ("smart", "fixed")}
    db = build_firestore(cloud)
    seed_subscriptions(db, [
        active_subscription(sid, payment_method_ref=sandbox.INSUFFICIENT_FUNDS,
                            period_start=PERIOD_START)
        for sid in sids.values()
    ])  # fmt: skip
    clock, stream = ManualClock(DUE + timedelta(minutes=1)), io.StringIO()
    inline = build_inline(
        cloud, clock=clock, gateways=GatewayRouter({}, default=SandboxGateway()),
        log=get_logger("renewal_trigger", stream),
    )  # fmt: skip

    inline.run()

    decline = classify_stripe("card_declined", "insufficient_funds")
    lines = [json.loads(x) for x in stream.getvalue().splitlines() if x.startswith("{")]
    for variant, sid in sids.items():
        stored = db.collection(SUBSCRIPTIONS).document(sid).get().to_dict() or {}
        assert stored["state"] == "past_due"
        expected = decide_retry(
            variant, DEFAULT_POLICY, decline=decline, anchor=DUE, failed_at=clock.now(),
            failed_attempts=1, market="SE",
        )  # fmt: skip
        assert expected.at is not None and _at(stored) == expected.at
        [line] = [x for x in lines if x.get("message") == "renewal charge"
                  and x.get("subscription_id") == sid]  # fmt: skip
        assert (line["retry_variant"], line["retry_policy"]) == (variant, f"{variant}/1")
    fixed_day = DUE + DEFAULT_POLICY.retry_offsets[0]  # day 1 at the renewal's hour
    assert _at(db.collection(SUBSCRIPTIONS).document(sids["fixed"]).get().to_dict()) == fixed_day
    assert _at(db.collection(SUBSCRIPTIONS).document(sids["smart"]).get().to_dict()) != fixed_day

    _post_tick(tick, cloud.project)  # the churn export drains what the worker published

    sql = f"SELECT * FROM `{cloud.project}.{ANALYTICS_DATASET}.experiment_exposures`"
    rows = {r.subscriber_key: r for r in build_bigquery(cloud).query(sql).result()}
    for variant, sid in sids.items():
        row = rows[keys.subscriber_key(f"acct_{sid}")]
        assert (row.experiment_key, row.variant) == ("dunning_retry_timing", variant)
        assert row.exposed_at == clock.now()
