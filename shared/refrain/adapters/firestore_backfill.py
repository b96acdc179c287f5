"""The entitlement backfill's store over Firestore (refrain.account.backfill).

Pages: ``subscriptions`` ordered by document id (the built-in ``__name__`` index), after
the cursor's document. Entries: one ``get_all`` of the page's ``entitlements/{account}``
documents. Repair: a transaction reading the subscription and the entitlement document
and writing the ledger's own merge (refrain.adapters.firestore_ledger.entitlement_entry),
so a concurrent ledger commit is serialised with it. Cursors: ``operator_cursors/{job}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore import FieldFilter

from refrain.adapters.document_ids import document_id
from refrain.adapters.firestore_collections import (
    ENTITLEMENTS,
    OPERATOR_CURSORS,
    SUBSCRIPTIONS,
    keyed,
)
from refrain.adapters.firestore_ledger import entitlement_entry
from refrain.domain.entitlement import access_of
from refrain.domain.subscription import Subscription

_NAME = "__name__"


@dataclass
class FirestoreBackfillStore:
    db: firestore.Client

    def page(self, after: str | None, limit: int) -> list[Subscription]:
        query = self.db.collection(SUBSCRIPTIONS).order_by(_NAME)
        if after is not None:
            ref = keyed(self.db, SUBSCRIPTIONS, after)
            query = query.where(filter=FieldFilter(_NAME, ">", ref))
        return [Subscription.from_dict(d.to_dict() or {}) for d in query.limit(limit).stream()]

    def entries(self, account_ids: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
        refs = [keyed(self.db, ENTITLEMENTS, a) for a in sorted(account_ids)]
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for snap in self.db.get_all(refs):
            doc = snap.to_dict() if snap.exists else None
            if not doc:
                continue
            subs = doc.get("subscriptions") or {}
            found[str(doc.get("account_id"))] = {
                str(entry.get("subscription_id")): dict(entry)
                for entry in subs.values()
                if isinstance(entry, dict)
            }
        return found

    def repair(self, subscription_id: str, check: Callable[[Subscription, Any], bool]) -> bool:
        return bool(_repair(self.db.transaction(), self.db, subscription_id, check))

    def cursor(self, job: str) -> str | None:
        snap = keyed(self.db, OPERATOR_CURSORS, job).get()
        value = (snap.to_dict() or {}).get("cursor") if snap.exists else None
        return str(value) if value else None

    def save_cursor(self, job: str, cursor: str | None, counts: Mapping[str, int]) -> None:
        keyed(self.db, OPERATOR_CURSORS, job).set(
            {"job": job, "cursor": cursor, "counts": dict(counts), "at": datetime.now(UTC)}
        )


@firestore.transactional
def _repair(
    transaction: firestore.Transaction, db: firestore.Client, subscription_id: str,
    check: Callable[[Subscription, Any], bool],
) -> bool:  # fmt: skip
    sub_ref = keyed(db, SUBSCRIPTIONS, subscription_id)
    sub_snap = sub_ref.get(transaction=transaction)
    if not sub_snap.exists:
        return False
    sub = Subscription.from_dict(sub_snap.to_dict() or {})
    ent_ref = keyed(db, ENTITLEMENTS, sub.account_id)
    ent_snap = ent_ref.get(transaction=transaction)
    subs = ((ent_snap.to_dict() or {}).get("subscriptions") or {}) if ent_snap.exists else {}
    if not check(sub, subs.get(document_id(subscription_id))):
        return False
    transaction.set(ent_ref, entitlement_entry(access_of(sub)), merge=True)
    return True
