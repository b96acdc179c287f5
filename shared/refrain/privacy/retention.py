"""How long each kind of personal record is kept: the ``expire_at`` Firestore's TTL reads.

The table with the reasons is docs/PRIVACY.md; these values are its source. Firestore
deletes a document some time (typically within a day) after its ``expire_at`` passes;
the TTL fields are declared in refrain_tools.infra.firestore_spec and created by
Terraform (terraform/firestore.tf).

Invoices and credit notes: the retention of the issuing legal entity's bookkeeping and
VAT law, counted from the end of the calendar year of issue (the period most laws count
from), so the document expires on 1 January after ``years`` full years.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

# Seller country (ISO 3166-1) -> years invoices and credit notes are kept.
INVOICE_RETENTION_YEARS: Final = {
    "SE": 7,  # Bokföringslagen 7 kap. 2 §; EU VAT Directive art. 247 leaves it to the state
    "GB": 6,  # VAT Act 1994 sch. 11 para. 6; Companies Act 2006 s. 388
    "US": 7,  # IRS record-keeping guidance (longest ordinary assessment period)
    "CH": 10,  # OR art. 958f; MWSTG art. 70
    "JP": 7,  # Corporation Tax Act art. 126, Consumption Tax Act art. 30
    "KR": 5,  # Framework Act on National Taxes art. 85-3
    "IN": 8,  # Companies Act 2013 s. 128(5) (CGST s. 36: 72 months)
    "BR": 5,  # Código Tributário Nacional art. 173/174
    "MX": 5,  # Código Fiscal de la Federación art. 30
    "AE": 5,  # Federal Decree-Law 8/2017 (VAT) art. 78
    "AU": 5,  # Income Tax Assessment Act 1936 s. 262A; GST Act
}
DEFAULT_INVOICE_RETENTION_YEARS: Final = 10  # an entity not listed: the longest above
# The profile (e-mail, name): three years after the last change to any of the account's
# subscriptions (every renewal is one), the general limitation period for claims about
# the contract (e.g. BGB § 195, Swedish preskriptionslag 2 § for consumers: 3 years).
CUSTOMER_RETENTION: Final = timedelta(days=3 * 366)
# E-mail send records: longer than any redelivery of the event they dedupe (Pub/Sub's 7
# days, a dead-letter replay within its 31 days), and a year to answer "did you mail me".
SEND_RECORD_RETENTION: Final = timedelta(days=400)
# The erasure record outlives everything it is about (the longest invoice retention).
ERASURE_RECORD_RETENTION: Final = timedelta(days=11 * 366)


def invoice_retention_years(seller_country: str) -> int:
    return INVOICE_RETENTION_YEARS.get(seller_country.upper(), DEFAULT_INVOICE_RETENTION_YEARS)


def invoice_expire_at(seller_country: str, issued_at: datetime) -> datetime:
    """1 January after ``years`` full calendar years following the year of issue."""
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    years = invoice_retention_years(seller_country)
    return datetime(issued_at.astimezone(UTC).year + years + 1, 1, 1, tzinfo=UTC)
