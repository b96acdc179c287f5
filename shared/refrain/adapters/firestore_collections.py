"""Firestore collection names, in one place so every function agrees.

Personal data (e-mail, name, locale choice) lives only in `customers` (and in the
raw provider bodies `webhook_audit` keeps for 30 days); every other document refers to
the customer by the opaque account id. What erasure removes and each collection's TTL:
docs/PRIVACY.md.

Every ``{...}`` below is an identifier as the domain knows it (a subscription
id, a dedupe key, a provider reference...); the document id is
:func:`refrain.adapters.document_ids.document_id` of it (invariant 11), through
:func:`keyed`, so a provider's ``a/b`` and ``a_b`` stay two documents and no id
Firestore refuses reaches it. Documents whose code needs the identifier back
store it in a field (the outbox entry's ``dedupe_key``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from refrain.adapters.document_ids import document_id

if TYPE_CHECKING:
    from google.cloud import firestore

SUBSCRIPTIONS = "subscriptions"  # {subscription_id}: Subscription.to_dict() + bookkeeping
CUSTOMERS = "customers"  # {account_id}: email, name, locale, market (personal data)
PROVIDER_REFS = "provider_refs"  # {provider}:{object id}: which subscription it belongs to
WEBHOOK_AUDIT = "webhook_audit"  # {request_id}: verified raw request + outcome, TTL'd
# {dedupe key}: one per applied input (provider event, charge outcome, care action); created
# with a create() precondition, so it is also the dedupe record. Holds the domain events the
# input produced and `published`; the relay publishes what is left unpublished.
OUTBOX = "outbox"
CHARGES = "charges"  # {charge_id}: one claimed charge attempt (subscription, period, attempt)
# {provider payment reference}: refunds of one payment (credited total, refund ids, operator
# requests reserved against what is left); see refrain.domain.refunds.
REFUNDS = "refunds"
INVOICES = "invoices"  # {invoice_id}: finalised invoices and credit notes
INVOICE_SERIES = "invoice_series"  # {series_id}: gapless counter per series
RECEIPT_SENDS = "receipt_sends"  # {notice_id}: e-mail send lease and SES message id
# {document_id(event dedupe key) | request:{audit id}}: an authentic event that cannot be
# applied yet, what it waits for, when the sweep looks again; TTL'd with its audit record.
PARKED_EVENTS = "parked_events"
# {plan}:{market}:v{n}: a scheduled price version (refrain.pricing); version 1 is the catalog.
PRICE_CHANGES = "price_changes"
# {account_id}: one entry per subscription of the account (refrain.domain.entitlement), written
# by the ledger in the commit that writes the subscription; the account API's one read.
ENTITLEMENTS = "entitlements"
# {account_id}:{Idempotency-Key}: an account API request's fingerprint and answer, TTL'd.
IDEMPOTENCY_KEYS = "idempotency_keys"
# {job}: where a resumable operator job left off (e.g. the entitlement backfill); no
# personal data.
OPERATOR_CURSORS = "operator_cursors"
# {SHA-256 of "refrain-erasure\0" + account_id}: that an erasure happened, when, counts; no
# personal data (refrain.privacy.erasure).
ERASURES = "erasures"


def keyed(db: firestore.Client, collection: str, key: str) -> firestore.DocumentReference:
    """``collection/{key}``, the key encoded into a valid, injective document id."""
    return db.collection(collection).document(document_id(key))
