"""The entitlement backfill: ``entitlements/{account}`` for subscriptions that existed before
the ledger wrote it (or whose entry went missing), recomputed from the subscriptions.

One source of truth: each entry is :func:`refrain.domain.entitlement.access_of` of the
stored subscription, the very function the ledger applies in the commit that writes the
subscription (refrain.ledger). Nothing else is consulted.

Pass: subscriptions in document-id order, ``batch`` at a time; for each page, one batched
read of the accounts' entitlement documents; a subscription whose entry is missing or
differs from ``access_of`` is repaired in a transaction that reads the subscription and
the entitlement document again and writes the entry only if it still differs (a ledger
commit in between wins: the transaction retries on the new state, so the backfill never
writes an entry older than the subscription). Idempotent: a second pass writes nothing.

Resumable: after each page the cursor (the last subscription's id) is saved; a new run
resumes after it, and the cursor is cleared when a pass completes, so the next run
checks everything again. ``dry_run`` reads, counts and saves nothing.

Entries for subscriptions that no longer exist are left alone (nothing deletes a
subscription; an operator who does should remove its entry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from refrain.domain.entitlement import access_of
from refrain.domain.subscription import Subscription

JOB = "entitlement-backfill"


def wanted_entry(sub: Subscription) -> dict[str, Any]:
    """The entry the ledger would write for ``sub``, as stored."""
    return access_of(sub).to_dict()


def differs(sub: Subscription, stored: Mapping[str, Any] | None) -> bool:
    """Whether the stored entry (None: missing) is not what the ledger would write."""
    return stored is None or dict(stored) != wanted_entry(sub)


class BackfillStore(Protocol):
    def page(self, after: str | None, limit: int) -> list[Subscription]:
        """Subscriptions whose id sorts after ``after`` (document-id order), at most ``limit``."""
        ...

    def entries(self, account_ids: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """account → subscription id → stored entry, one batched read."""
        ...

    def repair(self, subscription_id: str, check: Callable[[Subscription, Any], bool]) -> bool:
        """In one transaction: read the subscription and its account's entry, write the
        ledger's entry if ``check(sub, stored)`` still says so; whether it wrote."""
        ...

    def cursor(self, job: str) -> str | None: ...

    def save_cursor(self, job: str, cursor: str | None, counts: Mapping[str, int]) -> None: ...


@dataclass
class BackfillCounts:
    subscriptions: int = 0
    accounts: int = 0
    up_to_date: int = 0
    missing: int = 0
    differing: int = 0
    written: int = 0
    settled_meanwhile: int = 0  # found differing, then the ledger (or another run) fixed it
    pages: int = 0
    resumed_after: str | None = None
    _accounts: set[str] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


@dataclass
class EntitlementBackfill:
    store: BackfillStore
    batch: int = 200

    def run(self, *, dry_run: bool = False, restart: bool = False) -> BackfillCounts:
        counts = BackfillCounts()
        cursor = None if restart else self.store.cursor(JOB)
        counts.resumed_after = cursor
        while True:
            subs = self.store.page(cursor, self.batch)
            if not subs:
                break
            counts.pages += 1
            self._page(subs, counts, dry_run)
            cursor = subs[-1].subscription_id
            if not dry_run:
                self.store.save_cursor(JOB, cursor, _saved(counts))
            if len(subs) < self.batch:
                break
        if not dry_run:
            self.store.save_cursor(JOB, None, _saved(counts))  # done: the next run starts over
        return counts

    def _page(self, subs: list[Subscription], counts: BackfillCounts, dry_run: bool) -> None:
        stored = self.store.entries({s.account_id for s in subs})
        for sub in subs:
            counts.subscriptions += 1
            if sub.account_id not in counts._accounts:
                counts._accounts.add(sub.account_id)
                counts.accounts += 1
            entry = stored.get(sub.account_id, {}).get(sub.subscription_id)
            if not differs(sub, entry):
                counts.up_to_date += 1
                continue
            if entry is None:
                counts.missing += 1
            else:
                counts.differing += 1
            if dry_run:
                continue
            if self.store.repair(sub.subscription_id, differs):
                counts.written += 1
            else:
                counts.settled_meanwhile += 1


def _saved(counts: BackfillCounts) -> dict[str, int]:
    return {k: v for k, v in counts.as_dict().items() if isinstance(v, int)}
