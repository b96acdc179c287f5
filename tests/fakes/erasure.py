"""An in-memory ErasureStore: where one account's personal data lives, as plain dicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from refrain.domain.subscription import Subscription, evolve
from refrain.privacy.erasure import ErasureRecord


@dataclass
class MemoryErasureStore:
    customers: dict[str, dict[str, str]] = field(default_factory=dict)
    entitlements: set[str] = field(default_factory=set)
    subs: dict[str, Subscription] = field(default_factory=dict)
    entries: dict[str, list[tuple[str, str, str]]] = field(
        default_factory=dict
    )  # sid -> (audit, notice, account)
    audits: set[str] = field(default_factory=set)
    parked: dict[str, str] = field(default_factory=dict)  # parked key -> audit id
    sends: dict[str, str | None] = field(default_factory=dict)  # notice -> SES message id
    invoices: dict[str, str] = field(default_factory=dict)  # invoice id -> account id
    records: dict[str, ErasureRecord] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def subscriptions(self, account_id: str) -> list[Subscription]:
        return [s for s in self.subs.values() if s.account_id == account_id]

    def audit_ids(self, subscription_ids: Sequence[str]) -> list[str]:
        return [a for sid in subscription_ids for a, _, _ in self.entries.get(sid, [])]

    def notice_ids(self, account_id: str, subscription_ids: Sequence[str]) -> list[str]:
        mine = [i for i, owner in self.invoices.items() if owner == account_id]
        return mine + [n for sid in subscription_ids for _, n, _ in self.entries.get(sid, [])]

    def delete_customer(self, account_id: str) -> int:
        self.calls.append("customer")
        return 1 if self.customers.pop(account_id, None) is not None else 0

    def delete_entitlements(self, account_id: str) -> int:
        found = account_id in self.entitlements
        self.entitlements.discard(account_id)
        return int(found)

    def drop_audit_bodies(self, audit_ids: Sequence[str]) -> int:
        found = self.audits & set(audit_ids)
        self.audits -= found
        return len(found)

    def delete_parked(self, audit_ids: Sequence[str]) -> int:
        gone = [k for k, a in self.parked.items() if a in audit_ids]
        for key in gone:
            del self.parked[key]
        return len(gone)

    def reduce_send_records(self, notice_ids: Sequence[str]) -> int:
        reduced = [n for n in notice_ids if self.sends.get(n) is not None]
        for notice in reduced:
            self.sends[notice] = None
        return len(reduced)

    def rename_invoices(self, account_id: str, alias: str) -> int:
        mine = [i for i, owner in self.invoices.items() if owner == account_id]
        for invoice_id in mine:
            self.invoices[invoice_id] = alias
        return len(mine)

    def rename_subscriptions(
        self, subscription_ids: Sequence[str], account_id: str, alias: str
    ) -> tuple[int, int]:
        self.calls.append("rename")
        renamed = entries = 0
        for sid in subscription_ids:
            listed = self.entries.get(sid, [])
            entries += sum(1 for _, _, owner in listed if owner == account_id)
            self.entries[sid] = [(a, n, alias if o == account_id else o) for a, n, o in listed]
            if self.subs[sid].account_id == account_id:
                self.subs[sid] = evolve(self.subs[sid], {"account_id": alias})
                renamed += 1
        return renamed, entries

    def recorded(self, account_hash: str) -> ErasureRecord | None:
        return self.records.get(account_hash)

    def record(self, record: ErasureRecord) -> None:
        self.records[record.account_hash] = record
