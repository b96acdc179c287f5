"""Operator CLI on the emulators: seed through the real ledger, run `refrain` in-process."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result
from google.api_core.exceptions import DeadlineExceeded
from google.cloud import firestore, pubsub_v1  # type: ignore[attr-defined]

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import keyed
from refrain.adapters.firestore_ledger import FirestoreLedger
from refrain.adapters.pubsub import build_subscriber
from refrain.domain import load_catalog
from refrain.domain.clock import utc
from refrain.domain.inputs import CheckoutCompleted
from refrain.domain.subscription import BillingMode, Subscription
from refrain.ledger import LedgerCommand, LedgerStatus
from refrain.settings import CloudSettings
from refrain_tools.cli import main

T0 = utc(2025, 1, 1)


@dataclass
class Ops:
    settings: CloudSettings
    db: firestore.Client
    subscriber: pubsub_v1.SubscriberClient

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    def seed(
        self,
        sub_id: str = "sub_care_1",
        *,
        billing_mode: BillingMode = BillingMode.MERCHANT_MANAGED,
        at: datetime = T0,
    ) -> None:
        """An active SE individual_monthly subscription, via a paid checkout through the ledger."""
        offer = load_catalog().offer("individual_monthly", "SE")
        draft = Subscription.new(
            subscription_id=sub_id, account_id=f"acct_{sub_id}", provider="stripe",
            billing_mode=billing_mode, plan=offer.plan.id, plan_rank=offer.plan.rank,
            interval_months=1, market="SE", price=offer.price, created_at=at,
        )  # fmt: skip
        checkout = CheckoutCompleted(
            input_id=f"evt_checkout_{sub_id}", occurred_at=at, payment_method_ref="pm_sandbox_ok",
            paid=True, charge_id=f"ch_{sub_id}", amount=offer.price,
        )  # fmt: skip
        result = FirestoreLedger(self.db).apply(
            LedgerCommand(
                dedupe_key=f"stripe:evt_checkout_{sub_id}",
                subscription_id=sub_id,
                input=checkout,
                now=at,
                source="stripe",
                draft=draft,
            )
        )
        assert result.status is LedgerStatus.APPLIED

    def subscription(self, sub_id: str = "sub_care_1") -> dict[str, Any]:
        snap = keyed(self.db, "subscriptions", sub_id).get()
        assert snap.exists
        return snap.to_dict() or {}

    def outbox_ids(self) -> list[str]:
        return sorted(d.id for d in self.db.collection("outbox").list_documents())

    def pull(
        self, subscription: str, want: int = 0, *, settle: bool = False, wait_s: float = 10.0
    ) -> list[pubsub_v1.types.PubsubMessage]:
        """Drain a pull subscription (acking) until `want` arrived; `settle`: then one more pull
        that must find the rest (so "exactly N" can be asserted)."""
        path = self.subscriber.subscription_path(self.settings.project, subscription)
        got: list[pubsub_v1.types.PubsubMessage] = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                batch = self.subscriber.pull(
                    request={"subscription": path, "max_messages": 100}, timeout=2
                ).received_messages
            except DeadlineExceeded:
                batch = []
            if batch:
                self.subscriber.acknowledge(
                    request={"subscription": path, "ack_ids": [m.ack_id for m in batch]}
                )
                got.extend(m.message for m in batch)
                if len(got) >= want and not settle:
                    break
            elif len(got) >= want:
                break
        return got


@pytest.fixture
def ops(cloud: CloudSettings) -> Ops:
    return Ops(cloud, build_firestore(cloud), build_subscriber(cloud))
