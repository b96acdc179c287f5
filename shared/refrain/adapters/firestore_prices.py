"""Firestore for price changes: the scheduled versions, and who is on a (plan, market).

``price_changes/{plan}:{market}:v{n}``: one scheduled price version (refrain.pricing).
A request's versions are created in one batch of ``create()`` writes, atomic: if one id
exists already (a concurrent ``schedule`` took that version) none is written.

The subscribers query (composite index in refrain_tools.infra.firestore_spec):

    subscriptions where billing_mode == "merchant_managed" and plan == P and market == M
                    and state in (trialing, active, past_due, on_hold, paused)
                  (in document-id order), page by cursor
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from google.api_core import exceptions as gexc
from google.cloud import firestore

from refrain.adapters.firestore import query_pages
from refrain.adapters.firestore_collections import PRICE_CHANGES, SUBSCRIPTIONS, keyed
from refrain.domain.subscription import DUE_STATES, BillingMode
from refrain.pricing.schedule import PriceChangeRefused, ScheduledPrice


@dataclass
class FirestorePriceChanges:
    db: firestore.Client

    def versions(self, plan: str, market: str) -> list[ScheduledPrice]:
        query = (
            self.db.collection(PRICE_CHANGES)
            .where(filter=firestore.FieldFilter("plan", "==", plan))
            .where(filter=firestore.FieldFilter("market", "==", market))
        )
        found = [ScheduledPrice.from_dict(s.to_dict() or {}) for s in query.stream()]
        return sorted(found, key=lambda v: v.version)

    def create_all(self, changes: Sequence[ScheduledPrice]) -> None:
        batch = self.db.batch()
        for change in changes:
            batch.create(keyed(self.db, PRICE_CHANGES, change.change_id), change.to_dict())
        try:
            batch.commit()
        except gexc.AlreadyExists as exc:
            raise PriceChangeRefused(
                ["another price change took the same version meanwhile; run the command again"]
            ) from exc

    def get(self, change_id: str) -> ScheduledPrice | None:
        snap = keyed(self.db, PRICE_CHANGES, change_id).get()
        return ScheduledPrice.from_dict(snap.to_dict() or {}) if snap.exists else None

    def all(self) -> list[ScheduledPrice]:
        found = [
            ScheduledPrice.from_dict(s.to_dict() or {})
            for s in self.db.collection(PRICE_CHANGES).stream()
        ]
        return sorted(found, key=lambda v: (v.plan, v.market, v.version))


@dataclass
class FirestoreSubscribers:
    db: firestore.Client

    def subscriber_pages(self, plan: str, market: str, page_size: int) -> Iterator[list[str]]:
        merchant = BillingMode.MERCHANT_MANAGED.value
        query = (
            self.db.collection(SUBSCRIPTIONS)
            .where(filter=firestore.FieldFilter("billing_mode", "==", merchant))
            .where(filter=firestore.FieldFilter("plan", "==", plan))
            .where(filter=firestore.FieldFilter("market", "==", market))
            .where(filter=firestore.FieldFilter("state", "in", [s.value for s in DUE_STATES]))
            .select(["subscription_id"])
        )
        for snaps in query_pages(query, page_size):
            if snaps:
                yield [str((s.to_dict() or {})["subscription_id"]) for s in snaps]
