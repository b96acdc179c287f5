"""`refrain accounts backfill-entitlements` on the Firestore emulator: subscriptions written
through the real ledger, some entitlement documents deleted (as before the ledger wrote
them) or stale; the backfill restores exactly what the ledger wrote, a second run writes
nothing, a dry run writes nothing, and an interrupted run resumes after its cursor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from google.cloud import firestore

from refrain.account.backfill import JOB, EntitlementBackfill
from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_backfill import FirestoreBackfillStore
from refrain.adapters.firestore_collections import ENTITLEMENTS, OPERATOR_CURSORS, keyed
from refrain.adapters.firestore_ledger import FirestoreLedger
from refrain.domain import load_catalog
from refrain.domain.inputs import CancelRequested, CheckoutCompleted, PauseRequested
from refrain.domain.subscription import BillingMode, Subscription
from refrain.ledger import LedgerCommand, LedgerStatus
from refrain.settings import CloudSettings
from refrain_tools.cli import main

pytestmark = pytest.mark.integration
AT = datetime.now(UTC) - timedelta(days=3)
# account → its subscriptions: (id, plan, market, what happened after the checkout)
SEEDED: dict[str, list[tuple[str, str, str, str | None]]] = {
    "acct_bf_1": [("sub_bf_1a", "individual_monthly", "SE", None),
                  ("sub_bf_1b", "duo_monthly", "DE", "cancel")],
    "acct_bf_2": [("sub_bf_2a", "family_monthly", "GB", "pause")],
    "acct_bf_3": [("sub_bf_3a", "individual_monthly", "JP", None)],
    "acct/bf 4": [("sub/bf 4a", "duo_monthly", "BR", None)],  # ids that need encoding
    "acct_bf_5": [("sub_bf_5a", "individual_monthly", "SE", "cancel")],
}  # fmt: skip
SUBSCRIPTIONS = sum(len(v) for v in SEEDED.values())


def _apply(db: firestore.Client, sub_id: str, command: LedgerCommand) -> None:
    assert FirestoreLedger(db).apply(command).status is LedgerStatus.APPLIED, sub_id


def _seed(db: firestore.Client) -> None:
    catalog = load_catalog()
    for account, subs in SEEDED.items():
        for sub_id, plan, market, then in subs:
            offer = catalog.offer(plan, market)
            draft = Subscription.new(
                subscription_id=sub_id, account_id=account, provider="stripe",
                billing_mode=BillingMode.MERCHANT_MANAGED, plan=offer.plan.id,
                plan_rank=offer.plan.rank, interval_months=offer.plan.interval.months,
                market=market, price=offer.price, created_at=AT,
            )  # fmt: skip
            checkout = CheckoutCompleted(
                input_id=f"evt_{sub_id}", occurred_at=AT, payment_method_ref="pm_sandbox_ok",
                paid=True, charge_id=f"ch_{sub_id}", amount=offer.price,
            )  # fmt: skip
            _apply(db, sub_id, LedgerCommand(f"stripe:evt_{sub_id}", sub_id, checkout, AT,
                                             "stripe", draft=draft))  # fmt: skip
            later = AT + timedelta(hours=1)
            if then == "cancel":
                step: Any = CancelRequested(input_id=f"cancel_{sub_id}", occurred_at=later)
            elif then == "pause":
                step = PauseRequested(input_id=f"pause_{sub_id}", occurred_at=later)
            else:
                continue
            _apply(db, sub_id, LedgerCommand(f"care:{then}_{sub_id}", sub_id, step, later, "care"))


def _entitlements(db: firestore.Client) -> dict[str, dict[str, Any]]:
    return {doc.id: doc.to_dict() or {} for doc in db.collection(ENTITLEMENTS).stream()}


def _run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["accounts", "backfill-entitlements", "--json", *args])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


@pytest.fixture
def db(cloud: CloudSettings) -> firestore.Client:
    client = build_firestore(cloud)
    _seed(client)
    return client


def test_deleted_and_stale_entitlements_are_restored_as_the_ledger_wrote_them(
    db: firestore.Client,
) -> None:
    written_by_ledger = _entitlements(db)
    assert len(written_by_ledger) == len(SEEDED)
    # Before the ledger wrote entitlements: three accounts' documents do not exist.
    for account in ("acct_bf_1", "acct_bf_2", "acct/bf 4"):
        keyed(db, ENTITLEMENTS, account).delete()
    # And one entry is stale (a state the subscription left long ago).
    stale = keyed(db, ENTITLEMENTS, "acct_bf_5")
    doc = stale.get().to_dict() or {}
    [key] = doc["subscriptions"]
    doc["subscriptions"][key] = {**doc["subscriptions"][key], "reason": "active",
                                 "state": "active", "version": 1}  # fmt: skip
    stale.set(doc)

    dry = _run("--dry-run", "--batch", "2")
    assert (dry["missing"], dry["differing"], dry["written"]) == (4, 1, 0)
    assert len(_entitlements(db)) == len(SEEDED) - 3  # a dry run writes nothing

    first = _run("--batch", "2")
    assert first["subscriptions"] == SUBSCRIPTIONS and first["accounts"] == len(SEEDED)
    assert (first["missing"], first["differing"], first["written"]) == (4, 1, 5)
    assert first["up_to_date"] == SUBSCRIPTIONS - 5 and first["pages"] == 3
    assert _entitlements(db) == written_by_ledger  # exactly what the ledger wrote

    second = _run("--batch", "2")
    assert (second["written"], second["missing"], second["differing"]) == (0, 0, 0)
    assert second["up_to_date"] == SUBSCRIPTIONS and second["resumed_after"] is None
    assert _entitlements(db) == written_by_ledger


class Interrupted(Exception):
    pass


class StopsAfterOnePage(FirestoreBackfillStore):
    def save_cursor(self, job: str, cursor: str | None, counts: Any) -> None:
        super().save_cursor(job, cursor, counts)
        if cursor is not None:
            raise Interrupted(cursor)


def test_an_interrupted_run_resumes_after_its_cursor(db: firestore.Client) -> None:
    written_by_ledger = _entitlements(db)
    for account in SEEDED:
        keyed(db, ENTITLEMENTS, account).delete()
    with pytest.raises(Interrupted) as stopped:
        EntitlementBackfill(StopsAfterOnePage(db), batch=3).run()
    cursor = str(stopped.value)
    saved = keyed(db, OPERATOR_CURSORS, JOB).get().to_dict() or {}
    assert saved["cursor"] == cursor and saved["counts"]["written"] == 3

    resumed = _run("--batch", "3")
    assert resumed["resumed_after"] == cursor
    assert resumed["subscriptions"] == SUBSCRIPTIONS - 3 and resumed["written"] == 3
    assert _entitlements(db) == written_by_ledger
    assert (keyed(db, OPERATOR_CURSORS, JOB).get().to_dict() or {})["cursor"] is None
    assert _run("--batch", "3")["written"] == 0  # a completed pass: the next starts over
