"""Upgrading a deployment: documents from before the shards are stamped, then found."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from google.cloud.firestore import DELETE_FIELD

from refrain.adapters.firestore_collections import OUTBOX, SUBSCRIPTIONS, keyed
from refrain.adapters.firestore_ledger import DUE_SHARD
from refrain.adapters.firestore_outbox import SWEEP_SHARD, FirestoreOutbox
from refrain.adapters.firestore_renewals import FirestoreDueSource, seed_subscriptions
from refrain.renewals import sandbox
from refrain_tools.cli.renewals import renewals
from refrain_tools.renewals.population import active_subscription
from tests.integration.renewals.conftest import START, Rig

DUE_AT = START + timedelta(days=31, hours=12)


def _written_before_the_shards(rig: Rig, n: int) -> None:
    subs = [
        active_subscription(f"old{i:02d}", payment_method_ref=sandbox.OK, period_start=START)
        for i in range(n)
    ]
    seed_subscriptions(rig.db, subs)
    for sub in subs:
        keyed(rig.db, SUBSCRIPTIONS, sub.subscription_id).update({DUE_SHARD: DELETE_FIELD})
    keyed(rig.db, OUTBOX, "old-entry").set(
        {"dedupe_key": "old-entry", "published": False, "created_at": START, "events": []}
    )


def test_the_backfill_makes_old_documents_visible_to_the_tick_and_the_sweep(rig: Rig) -> None:
    _written_before_the_shards(rig, 12)
    source = FirestoreDueSource(rig.db)
    assert [s for page in source.due_pages(DUE_AT, 50) for s in page] == []  # invisible
    assert list(FirestoreOutbox(rig.db).unpublished(DUE_AT, 10)) == []

    runner = CliRunner()
    dry = runner.invoke(renewals, ["backfill-shards", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would stamp 12" in dry.output and "would stamp 1" in dry.output
    assert [s for page in source.due_pages(DUE_AT, 50) for s in page] == []  # nothing written

    done = runner.invoke(renewals, ["backfill-shards"])
    assert done.exit_code == 0, done.output
    assert "stamped 12" in done.output
    due = sorted(s.subscription_id for page in source.due_pages(DUE_AT, 5) for s in page)
    assert due == [f"old{i:02d}" for i in range(12)]
    [entry] = FirestoreOutbox(rig.db).unpublished(DUE_AT, 10)
    assert entry.outbox_id == "old-entry"
    assert keyed(rig.db, OUTBOX, "old-entry").get().get(SWEEP_SHARD) is not None

    again = runner.invoke(renewals, ["backfill-shards"])
    assert "stamped 0" in again.output and "stamped 1" not in again.output  # nothing left
