"""Erasure of a subscriber's personal data (GDPR art. 17), as pure steps behind one port.

What happens, in this order (docs/PRIVACY.md explains each rule):

1. Refused (:class:`ErasureBlocked`) while a subscription can still be charged (not
   expired, not cancelled at period end): merchant-managed, we would keep charging a
   card we can no longer send receipts for; provider-managed, the provider's next
   renewal notice would bring the e-mail back. The subscriber cancels first (at period
   end is enough; in the store for Play and Apple) and erases right after; a refused
   request changes nothing.
2. The profile (``customers``: e-mail, name, locale) and the entitlement document go.
3. The stored raw bodies of the provider notifications applied to the account's
   subscriptions (``webhook_audit``, found through the ledger entries' ``audit_id``)
   are dropped, and the events parked from them deleted.
4. The e-mail records (``receipt_sends``) keep their status (so a redelivered event
   still sends nothing twice) and lose the SES message id, which leads to the address
   in SES's own logs.
5. Invoices and credit notes are KEPT (the legal entity's retention period); they hold
   no name, address or e-mail (simplified B2C invoices), and their ``account_id`` is
   replaced by the erasure alias.
6. Last, the account id is rotated out of the ledger: subscriptions and the events in
   their ledger entries name a fresh random alias (``erased-...``), never stored next
   to the original. Subscriber keys in BigQuery are HMAC(pepper, account id): with the
   original id gone from Firestore, a key no longer resolves to anything Refrain holds,
   and later rows (a refund after erasure) carry the alias's unrelated key.
7. A record that it happened: SHA-256 of the account id under a fixed prefix, when, and
   the counts; no personal data. It is how a second run says "already erased".

A second run finds nothing (every count zero) and says so with the first run's time.
Step 6 comes last so that a run that stops half way is finished by the next one.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from refrain.domain.clock import Clock
from refrain.domain.subscription import State, Subscription
from refrain.observability import Logger

ALIAS_PREFIX = "erased-"
MAX_ACCOUNT_CHARS = 128  # Firebase's bound on a uid (refrain.account.auth)
COUNT_NAMES = (
    "customer_profiles", "entitlements", "audit_bodies", "parked_events", "email_records",
    "invoices_kept", "subscriptions", "ledger_entries",
)  # fmt: skip


class ErasureBlocked(Exception):
    """A subscription would still be charged; cancel it first."""

    def __init__(self, subscription_ids: Sequence[str]) -> None:
        super().__init__(f"{len(subscription_ids)} subscription(s) still renew")
        self.subscription_ids = tuple(subscription_ids)


class InvalidAccount(ValueError):
    """Not an account id this system can hold (empty, too long, control characters)."""


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    """What is kept about an erasure: no e-mail, no name, not the account id itself."""

    account_hash: str
    erased_at: datetime
    counts: dict[str, int]
    last_run_at: datetime


@dataclass(frozen=True, slots=True)
class ErasureReport:
    status: Literal["erased", "nothing_to_erase"]
    account_hash: str
    erased_at: datetime  # the first run that found anything (or this run)
    counts: dict[str, int] = field(default_factory=dict)  # what THIS run found


class ErasureStore(Protocol):
    """Where the account's personal data lives; each method returns what it changed."""

    def subscriptions(self, account_id: str) -> list[Subscription]: ...

    def audit_ids(self, subscription_ids: Sequence[str]) -> list[str]:
        """The webhook audit ids named by the subscriptions' ledger entries."""
        ...

    def notice_ids(self, account_id: str, subscription_ids: Sequence[str]) -> list[str]:
        """The ids of the account's e-mail records: invoice ids and notice ids."""
        ...

    def delete_customer(self, account_id: str) -> int: ...

    def delete_entitlements(self, account_id: str) -> int: ...

    def drop_audit_bodies(self, audit_ids: Sequence[str]) -> int: ...

    def delete_parked(self, audit_ids: Sequence[str]) -> int: ...

    def reduce_send_records(self, notice_ids: Sequence[str]) -> int: ...

    def rename_invoices(self, account_id: str, alias: str) -> int: ...

    def rename_subscriptions(
        self, subscription_ids: Sequence[str], account_id: str, alias: str
    ) -> tuple[int, int]:
        """(subscriptions, ledger entries) whose account id became ``alias``."""
        ...

    def recorded(self, account_hash: str) -> ErasureRecord | None: ...

    def record(self, record: ErasureRecord) -> None: ...


def account_hash(account_id: str) -> str:
    """SHA-256 under a fixed prefix: answers "was X erased?" given X, and nothing else."""
    return hashlib.sha256(b"refrain-erasure\x00" + account_id.encode()).hexdigest()


def new_alias() -> str:
    """128 random bits: unrelated to the account id, so nothing maps one to the other."""
    return ALIAS_PREFIX + secrets.token_hex(16)


def check_account(account_id: str) -> str:
    if not account_id or len(account_id) > MAX_ACCOUNT_CHARS:
        raise InvalidAccount(f"an account id has 1 to {MAX_ACCOUNT_CHARS} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in account_id) or account_id.strip() != account_id:
        raise InvalidAccount("an account id has no control characters or outer spaces")
    if account_id.startswith(ALIAS_PREFIX):
        raise InvalidAccount("that is an erasure alias, not an account")
    return account_id


def still_charged(subs: Sequence[Subscription]) -> list[str]:
    """Subscriptions that would still be charged: by our renewal tick (merchant-managed)
    or by the provider (Stripe Billing, Play, Apple), whose next renewal notification
    would bring the e-mail back."""
    return [
        s.subscription_id for s in subs
        if s.state is not State.EXPIRED and not s.cancel_at_period_end
    ]  # fmt: skip


@dataclass
class ErasureService:
    store: ErasureStore
    clock: Clock
    log: Logger | None = None  # one line per run: the receipt and counts, no personal data

    def erase(self, account_id: str) -> ErasureReport:
        account_id = check_account(account_id)
        subs = self.store.subscriptions(account_id)
        blocked = still_charged(subs)
        if blocked:
            if self.log is not None:
                self.log.info("erasure refused", status="blocked", renewing=len(blocked))
            raise ErasureBlocked(blocked)
        now = self.clock.now()
        ids = [s.subscription_id for s in subs]
        audits = self.store.audit_ids(ids)
        notices = self.store.notice_ids(account_id, ids)
        alias = new_alias()
        counts = dict.fromkeys(COUNT_NAMES, 0)
        counts["customer_profiles"] = self.store.delete_customer(account_id)
        counts["entitlements"] = self.store.delete_entitlements(account_id)
        counts["audit_bodies"] = self.store.drop_audit_bodies(audits)
        counts["parked_events"] = self.store.delete_parked(audits)
        counts["email_records"] = self.store.reduce_send_records(notices)
        counts["invoices_kept"] = self.store.rename_invoices(account_id, alias)
        renamed, entries = self.store.rename_subscriptions(ids, account_id, alias)
        counts["subscriptions"], counts["ledger_entries"] = renamed, entries
        digest = account_hash(account_id)
        before = self.store.recorded(digest)
        found = any(counts.values())
        first = before.erased_at if before is not None and any(before.counts.values()) else now
        total = {n: counts[n] + (before.counts.get(n, 0) if before else 0) for n in COUNT_NAMES}
        self.store.record(ErasureRecord(digest, first, total, now))
        status: Literal["erased", "nothing_to_erase"] = "erased" if found else "nothing_to_erase"
        if self.log is not None:
            self.log.info("erasure", status=status, receipt=digest, counts=counts)
        return ErasureReport(status, digest, first, counts)
