"""The Firestore indexes and TTL fields the deployed system needs, declared once.

Terraform creates exactly these (through the generated topology document), so a
query that needs a composite index gets it by adding a line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from refrain.adapters import firestore_collections as names

Order = Literal["ASCENDING", "DESCENDING"]


@dataclass(frozen=True)
class IndexField:
    field_path: str
    order: Order = "ASCENDING"


@dataclass(frozen=True)
class CompositeIndex:
    """A collection-scoped composite index; `why` names the query that needs it."""

    collection: str
    fields: tuple[IndexField, ...]
    why: str


@dataclass(frozen=True)
class IndexExemption:
    """A field written in time order that no query filters or sorts on by itself.

    Firestore indexes every field on its own unless told not to; for a value that grows
    with time those index writes all land at one end of a key range, which Google caps at
    about 500 writes/s. Exempt, the field keeps only the composite indexes above (which
    lead with a shard or an account). A field named here must never be queried alone:
    the emulator does not enforce indexes, production does.
    """

    collection: str
    field: str
    why: str


@dataclass(frozen=True)
class TtlField:
    """A timestamp field whose passing makes Firestore delete the document."""

    collection: str
    field: str
    why: str


COMPOSITE_INDEXES = (
    CompositeIndex(
        names.SUBSCRIPTIONS,
        (
            IndexField("billing_mode"),
            IndexField("state"),
            IndexField("due_shard"),
            IndexField("next_deadline_ts"),
        ),
        why="renewal tick: merchant-managed subscriptions in a due state whose next deadline "
        "(charge, grace end, hold end, resume) has passed, one shard at a time",
    ),
    CompositeIndex(
        names.OUTBOX,
        (IndexField("published"), IndexField("sweep_shard"), IndexField("created_at")),
        why="outbox sweep: oldest unpublished events first, one shard at a time",
    ),
    CompositeIndex(
        names.OUTBOX,
        (IndexField("subscription_id"), IndexField("created_at")),
        why="refrain subscriptions show: one subscription's ledger history, oldest first",
    ),
    CompositeIndex(
        names.SUBSCRIPTIONS,
        (IndexField("billing_mode"), IndexField("plan"), IndexField("market"), IndexField("state")),
        why="refrain prices notify: the merchant-managed subscribers of one plan and market "
        "that can still renew, in pages",
    ),
    CompositeIndex(
        names.INVOICES,
        (IndexField("account_id"), IndexField("issued_at", "DESCENDING")),
        why="account API GET /v1/me/invoices and the data export: one account's invoices and "
        "credit notes, newest first, in pages",
    ),
)

TTL_FIELDS = (
    TtlField(
        names.WEBHOOK_AUDIT,
        "expire_at",
        why="verified raw webhook requests are kept for a bounded time only",
    ),
    TtlField(
        names.PARKED_EVENTS,
        "expire_at",
        why="a parked provider event lives as long as the stored request it is applied from",
    ),
    TtlField(
        names.IDEMPOTENCY_KEYS,
        "expire_at",
        why="an account API Idempotency-Key answers the same for two days, then is forgotten",
    ),
    TtlField(
        names.CUSTOMERS,
        "expire_at",
        why="the profile (e-mail, name) goes 3 years after the account's last subscription change",
    ),
    TtlField(
        names.INVOICES,
        "expire_at",
        why="invoices and credit notes go when the issuing entity's legal retention ends",
    ),
    TtlField(
        names.RECEIPT_SENDS,
        "expire_at",
        why="an e-mail send record outlives every redelivery of its event, then goes",
    ),
    TtlField(
        names.ERASURES,
        "expire_at",
        why="the record of an erasure outlives the longest retention of what it kept",
    ),
)

# TTL fields are exempt already (terraform/firestore.tf gives them an empty index_config).
INDEX_EXEMPTIONS = (
    IndexExemption(
        names.SUBSCRIPTIONS,
        "next_deadline_ts",
        why="the renewal tick reads it only through the sharded due index",
    ),
    IndexExemption(names.SUBSCRIPTIONS, "next_charge_ts", why="a typed copy no query reads"),
    IndexExemption(
        names.OUTBOX,
        "created_at",
        why="1,000 entries/s at the peak; the sweep and the history read it through composites",
    ),
    IndexExemption(names.OUTBOX, "published_at", why="written on publish, never queried"),
    IndexExemption(names.WEBHOOK_AUDIT, "received_at", why="one per request, never queried"),
)
