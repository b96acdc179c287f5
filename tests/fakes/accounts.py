"""In-memory account API ports over the in-memory ledger (pure logic tests only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from refrain.account.service import Answer, KeyReused
from refrain.domain.entitlement import SubscriptionAccess
from refrain.domain.subscription import Subscription
from tests.fakes.ledger import MemoryLedger


@dataclass
class MemoryAccounts:
    ledger: MemoryLedger
    reads: int = 0  # entitlement document reads

    def entitlement_entries(self, account_id: str) -> list[SubscriptionAccess]:
        self.reads += 1
        return self.ledger.entitlement_entries(account_id)

    def subscriptions(self, account_id: str) -> list[Subscription]:
        return [s for s in self.ledger.subs.values() if s.account_id == account_id]

    def subscription(self, subscription_id: str) -> Subscription | None:
        return self.ledger.subs.get(subscription_id)

    def entry_status(self, dedupe_key: str) -> str | None:  # CareStore
        entry = self.ledger.outbox.get(dedupe_key)
        return entry.status if entry else None


@dataclass
class MemoryKeys:
    records: dict[str, tuple[str, Answer | None]] = field(default_factory=dict)

    def begin(self, scope: str, fingerprint: str, now: datetime) -> Answer | None:
        if scope not in self.records:
            self.records[scope] = (fingerprint, None)
            return None
        first, answer = self.records[scope]
        if first != fingerprint:
            raise KeyReused(scope)
        return answer

    def finish(self, scope: str, answer: Answer, now: datetime) -> None:
        self.records[scope] = (self.records[scope][0], answer)
