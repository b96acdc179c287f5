"""Firestore collection names, in one place so every function agrees.

Personal data (e-mail, name, locale choice) lives only in `customers`; every
other document refers to the customer by the opaque account id.
"""

from __future__ import annotations

SUBSCRIPTIONS = "subscriptions"  # {subscription_id}: Subscription.to_dict() + bookkeeping
CUSTOMERS = "customers"  # {account_id}: email, name, locale, market (personal data)
PROVIDER_REFS = "provider_refs"  # {provider}:{object id}: which subscription it belongs to
WEBHOOK_AUDIT = "webhook_audit"  # {request_id}: verified raw request + outcome, TTL'd
# {dedupe key}: one per applied input (provider event, charge outcome, care action); created
# with a create() precondition, so it is also the dedupe record. Holds the domain events the
# input produced and `published`; the relay publishes what is left unpublished.
OUTBOX = "outbox"
CHARGES = "charges"  # {charge_id}: one claimed charge attempt (subscription, period, attempt)
INVOICES = "invoices"  # {invoice_id}: finalised invoices and credit notes
INVOICE_SERIES = "invoice_series"  # {series_id}: gapless counter per series
RECEIPT_SENDS = "receipt_sends"  # {notice_id}: e-mail send lease and SES message id
# {document_id(event dedupe key) | request:{audit id}}: an authentic event that cannot be
# applied yet, what it waits for, when the sweep looks again; TTL'd with its audit record.
PARKED_EVENTS = "parked_events"
