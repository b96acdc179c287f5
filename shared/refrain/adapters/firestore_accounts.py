"""Firestore for the account API: the entitlement read, the account's subscriptions,
and the Idempotency-Key records.

``entitlement_entries`` is one document read (``entitlements/{account}``, written by
the ledger: refrain.adapters.firestore_ledger). ``subscriptions`` is one query on
``account_id`` (Firestore's automatic single-field index). An idempotency record is
created with a create() precondition (the first use wins a race) and expires through
Firestore's TTL on ``expire_at`` (refrain_tools.infra.firestore_spec).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from google.api_core.exceptions import AlreadyExists, Conflict
from google.cloud import firestore

from refrain.account.service import Answer, KeyReused
from refrain.adapters.firestore_collections import (
    ENTITLEMENTS,
    IDEMPOTENCY_KEYS,
    SUBSCRIPTIONS,
    keyed,
)
from refrain.domain.entitlement import SubscriptionAccess
from refrain.domain.subscription import Subscription

MAX_SUBSCRIPTIONS = 100  # an account with more is not a subscriber's account


@dataclass
class FirestoreAccounts:
    db: firestore.Client

    def entitlement_entries(self, account_id: str) -> list[SubscriptionAccess]:
        snap = keyed(self.db, ENTITLEMENTS, account_id).get()
        entries = (snap.to_dict() or {}).get("subscriptions", {}) if snap.exists else {}
        return [SubscriptionAccess.from_dict(e) for e in entries.values()]

    def subscriptions(self, account_id: str) -> list[Subscription]:
        query = (
            self.db.collection(SUBSCRIPTIONS)
            .where(filter=firestore.FieldFilter("account_id", "==", account_id))
            .limit(MAX_SUBSCRIPTIONS)
        )
        return [Subscription.from_dict(s.to_dict() or {}) for s in query.stream()]

    def subscription(self, subscription_id: str) -> Subscription | None:
        snap = keyed(self.db, SUBSCRIPTIONS, subscription_id).get()
        return Subscription.from_dict(snap.to_dict() or {}) if snap.exists else None


@dataclass
class FirestoreIdempotencyKeys:
    db: firestore.Client
    retention: timedelta = timedelta(days=2)

    def begin(self, scope: str, fingerprint: str, now: datetime) -> Answer | None:
        ref = keyed(self.db, IDEMPOTENCY_KEYS, scope)
        try:
            ref.create({"fingerprint": fingerprint, "created_at": now,
                        "expire_at": now + self.retention})  # fmt: skip
            return None
        except (AlreadyExists, Conflict):
            pass
        doc = ref.get().to_dict() or {}
        if doc.get("fingerprint") != fingerprint:
            raise KeyReused(scope)
        if doc.get("status") is None:
            return None  # first use not answered (lost, or still running): the ledger dedupes
        return Answer(int(doc["status"]), str(doc["body"]))

    def finish(self, scope: str, answer: Answer, now: datetime) -> None:
        ref = keyed(self.db, IDEMPOTENCY_KEYS, scope)
        ref.update({"status": answer.status, "body": answer.body, "answered_at": now})
