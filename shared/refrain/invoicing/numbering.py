"""Invoice series and numbers: gapless per series, several series per entity.

Legal assumption. EU VAT Directive 2006/112/EC art. 226(2) asks for "a
sequential number, based on one or more series, which uniquely identifies the
invoice". Member states (and the UK, Switzerland, Norway, Japan's qualified
invoice system) accept several parallel series as long as each one is
sequential without gaps and the series can be told apart. We rely on exactly
that: each legal entity issues from N parallel series per market prefix,
``SE1``, ``SE2`` ... ``SEn``; every series is gapless and strictly increasing;
credit notes have their own series per invoice series (``SE3-CN``), which
most VAT authorities accept and some require. Some countries want numbers to
restart yearly or to be reported to a tax authority (Brazil's NFS-e, Mexico's
CFDI); that is not modelled here.

Why several series: a series is one counter document, and one Firestore
document sustains about one transactional write per second. Spreading the
entity's invoices over N series by a stable hash of the subscription id gives
about N invoices/s per entity, and keeps one subscription's invoices in one
series (readable for the customer). Changing N later is safe: a series that
stops receiving invoices just stops; it never gets a gap.

Gaplessness comes from allocating the number in the same transaction that
creates the invoice document (see ``adapters/firestore_invoices.py``): a
number is only ever consumed together with an invoice that carries it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import datetime

from refrain.invoicing.model import DocumentKind, Invoice

__all__ = [
    "CREDIT_NOTE_SUFFIX",
    "DEFAULT_SHARDS",
    "allocate",
    "credit_note_id_for",
    "document_id",
    "invoice_id_for",
    "series_doc_id",
    "series_for",
]

DEFAULT_SHARDS = 8
MAX_SHARDS = 999
CREDIT_NOTE_SUFFIX = "-CN"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:#-]{1,200}$")
_HASHED = re.compile(r"^h[0-9a-f]{40}$")


def shard_of(subscription_id: str, shards: int) -> int:
    """1..shards, stable across processes and releases (not Python's salted hash)."""
    if not 1 <= shards <= MAX_SHARDS:
        raise ValueError(f"series shards must be within 1..{MAX_SHARDS}, got {shards}")
    digest = hashlib.sha256(subscription_id.encode("utf-8")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % shards


def series_for(
    prefix: str, subscription_id: str, shards: int, kind: DocumentKind = DocumentKind.INVOICE
) -> str:
    """The series an invoice of this subscription is numbered in."""
    base = f"{prefix}{shard_of(subscription_id, shards)}"
    return base if kind is DocumentKind.INVOICE else f"{base}{CREDIT_NOTE_SUFFIX}"


def credit_note_series(invoice_series: str) -> str:
    """A credit note is numbered in the companion series of the invoice it corrects."""
    return f"{invoice_series}{CREDIT_NOTE_SUFFIX}"


def series_doc_id(entity_id: str, series: str) -> str:
    """The counter document: one per (legal entity, series)."""
    return f"{entity_id}__{series}"


def document_id(prefix: str, source: str) -> str:
    """A short, readable id derived from a provider or event id (hashed if it has to be).

    Injective (up to SHA-256): a source that already looks like a hashed one is
    hashed too, so ``h<hash of X>`` from outside cannot take X's document. The
    storage adapter encodes the result into the document id (invariant 11).
    """
    if _SAFE_ID.match(source) and not _HASHED.match(source):
        return f"{prefix}_{source}"
    return f"{prefix}_h{hashlib.sha256(source.encode('utf-8')).hexdigest()[:40]}"


def invoice_id_for(charge_id: str | None, event_id: str) -> str:
    """Deterministic: the charge id (one invoice per charge) or else the event id."""
    return document_id("inv", charge_id) if charge_id else document_id("inv", event_id)


def credit_note_id_for(event_id: str) -> str:
    """One credit note per refund event (partial refunds of one charge each get one)."""
    return document_id("cn", event_id)


def allocate(draft: Invoice, last_sequence: int, last_issued_at: datetime | None) -> Invoice:
    """The draft numbered next in its series (pure; run inside the transaction).

    The issue date never goes backwards within a series: an invoice finalised
    after a later-dated one of the same series is dated like that one (some
    countries, Spain and Italy among them, expect dates to follow the numbers).
    """
    if last_sequence < 0:
        raise ValueError(f"series counter is corrupt: last={last_sequence}")
    issued_at = draft.issued_at
    if last_issued_at is not None and last_issued_at > issued_at:
        issued_at = last_issued_at
    return replace(draft, issued_at=issued_at).numbered(last_sequence + 1)
