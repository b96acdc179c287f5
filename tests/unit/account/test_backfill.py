"""The entitlement backfill's rules with an in-memory store: the ledger's own function decides
each entry, only differing entries are written, cursors resume, dry runs write nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from refrain.account.backfill import JOB, EntitlementBackfill, differs, wanted_entry
from refrain.domain.entitlement import access_of
from refrain.domain.subscription import evolve
from tests.unit.care.test_care_service import active

SUBS = {f"sub_{i}": evolve(active(f"sub_{i}"), {"account_id": f"acct_{i % 2}"}) for i in range(5)}


@dataclass
class MemoryStore:
    entries_: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    cursors: dict[str, str | None] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)

    def page(self, after: str | None, limit: int) -> list[Any]:
        ids = sorted(i for i in SUBS if after is None or i > after)[:limit]
        return [SUBS[i] for i in ids]

    def entries(self, account_ids: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
        return {a: dict(e) for a, e in self.entries_.items() if a in account_ids}

    def repair(self, subscription_id: str, check: Callable[[Any, Any], bool]) -> bool:
        sub = SUBS[subscription_id]
        stored = self.entries_.get(sub.account_id, {}).get(subscription_id)
        if not check(sub, stored):
            return False
        self.entries_.setdefault(sub.account_id, {})[subscription_id] = wanted_entry(sub)
        self.writes.append(subscription_id)
        return True

    def cursor(self, job: str) -> str | None:
        return self.cursors.get(job)

    def save_cursor(self, job: str, cursor: str | None, counts: Mapping[str, int]) -> None:
        self.cursors[job] = cursor


def test_the_entry_is_the_ledger_s_access_of_the_subscription() -> None:
    sub = SUBS["sub_1"]
    assert wanted_entry(sub) == access_of(sub).to_dict()
    assert differs(sub, None) and not differs(sub, wanted_entry(sub))
    assert differs(sub, {**wanted_entry(sub), "version": 0})


def test_only_missing_or_differing_entries_are_written_and_a_second_run_writes_none() -> None:
    store = MemoryStore()
    stale = {**wanted_entry(SUBS["sub_2"]), "plan": "old"}
    store.entries_ = {"acct_0": {"sub_0": wanted_entry(SUBS["sub_0"]), "sub_2": stale}}
    dry = EntitlementBackfill(store, batch=2).run(dry_run=True)
    assert (dry.missing, dry.differing, dry.up_to_date, store.writes) == (3, 1, 1, [])
    assert store.cursors == {}  # a dry run saves no cursor
    first = EntitlementBackfill(store, batch=2).run()
    assert (first.written, first.pages, first.accounts, first.subscriptions) == (4, 3, 2, 5)
    assert sorted(store.writes) == ["sub_1", "sub_2", "sub_3", "sub_4"]
    assert store.cursors[JOB] is None
    again = EntitlementBackfill(store, batch=2).run()
    assert (again.written, again.up_to_date) == (0, 5)


def test_a_saved_cursor_resumes_and_restart_ignores_it() -> None:
    store = MemoryStore(cursors={JOB: "sub_2"})
    resumed = EntitlementBackfill(store, batch=10).run()
    assert resumed.resumed_after == "sub_2" and sorted(store.writes) == ["sub_3", "sub_4"]
    store.cursors[JOB] = "sub_3"
    everything = EntitlementBackfill(store, batch=10).run(restart=True)
    assert everything.resumed_after is None and everything.subscriptions == 5
    assert everything.written == 3  # sub_0..sub_2, the rest written before
