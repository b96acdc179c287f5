"""Retention periods: invoices per legal entity, counted from the end of the year of issue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from refrain.domain import load_catalog
from refrain.privacy.retention import (
    DEFAULT_INVOICE_RETENTION_YEARS,
    ERASURE_RECORD_RETENTION,
    INVOICE_RETENTION_YEARS,
    invoice_expire_at,
    invoice_retention_years,
)


@pytest.mark.parametrize(
    ("country", "issued", "expires"),
    [
        ("SE", datetime(2025, 1, 1, tzinfo=UTC), datetime(2033, 1, 1, tzinfo=UTC)),
        ("SE", datetime(2025, 12, 31, 23, 59, tzinfo=UTC), datetime(2033, 1, 1, tzinfo=UTC)),
        ("CH", datetime(2025, 6, 1, tzinfo=UTC), datetime(2036, 1, 1, tzinfo=UTC)),
        ("gb", datetime(2025, 6, 1, tzinfo=UTC), datetime(2032, 1, 1, tzinfo=UTC)),
        ("ZZ", datetime(2025, 6, 1, tzinfo=UTC), datetime(2036, 1, 1, tzinfo=UTC)),
    ],
)
def test_an_invoice_expires_on_1_january_after_its_full_years(
    country: str, issued: datetime, expires: datetime
) -> None:
    assert invoice_expire_at(country, issued) == expires


def test_the_year_of_issue_is_the_utc_year() -> None:
    tokyo = timezone(timedelta(hours=9))
    issued = datetime(2026, 1, 1, 5, tzinfo=tokyo)  # still 2025 in UTC
    assert invoice_expire_at("JP", issued) == datetime(2033, 1, 1, tzinfo=UTC)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        invoice_expire_at("SE", datetime(2025, 1, 1))


def test_every_legal_entity_in_the_catalog_has_a_stated_rule() -> None:
    catalog = load_catalog()
    countries = {e.country for e in catalog.legal_entities.values()}
    assert countries <= set(INVOICE_RETENTION_YEARS), countries - set(INVOICE_RETENTION_YEARS)
    assert invoice_retention_years("ZZ") == DEFAULT_INVOICE_RETENTION_YEARS
    longest = max(INVOICE_RETENTION_YEARS.values())
    assert timedelta(days=365 * (longest + 1)) < ERASURE_RECORD_RETENTION


def test_every_collection_with_personal_data_has_a_ttl_and_a_row_in_the_docs() -> None:
    from refrain.adapters import firestore_collections as names
    from refrain_tools.infra.firestore_spec import TTL_FIELDS
    from tests.support import ROOT

    personal = {names.CUSTOMERS, names.WEBHOOK_AUDIT, names.PARKED_EVENTS, names.RECEIPT_SENDS,
                names.INVOICES, names.IDEMPOTENCY_KEYS, names.ERASURES}  # fmt: skip
    ttl = {t.collection for t in TTL_FIELDS if t.field == "expire_at"}
    assert personal <= ttl, personal - ttl
    doc = (ROOT / "docs" / "PRIVACY.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`") for line in doc.splitlines()
            if line.startswith("| `")}  # fmt: skip
    assert ttl <= rows, ttl - rows
