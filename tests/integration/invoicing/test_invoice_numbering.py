"""Gapless numbering under concurrency, against the Firestore emulator."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import INVOICE_SERIES, INVOICES
from refrain.adapters.firestore_invoices import FirestoreInvoiceStore
from refrain.domain import load_catalog
from refrain.invoicing import build_invoice
from refrain.invoicing.numbering import series_doc_id
from refrain.settings import CloudSettings
from tests.unit.invoicing.factories import invoice_paid

CATALOG = load_catalog()


@pytest.mark.timeout(180)
def test_100_invoices_by_8_workers_in_one_series_are_numbered_1_to_100(
    cloud: CloudSettings,
) -> None:
    db = build_firestore(cloud)
    store = FirestoreInvoiceStore(db)
    drafts = [
        build_invoice(
            invoice_paid(charge_id=f"pi_{i}", subscription_id=f"sub_{i}"), CATALOG, "sv_SE", 1
        )
        for i in range(100)
    ]
    assert {d.series for d in drafts} == {"SE1"}  # one shard: every invoice in one series
    with ThreadPoolExecutor(max_workers=8) as pool:
        finalised = list(pool.map(store.finalise, drafts))
    numbers = sorted(inv.sequence or 0 for inv in finalised)
    assert numbers == list(range(1, 101))
    assert store.series_numbers("refrain_ab", "SE1") == list(range(1, 101))
    counter = db.collection(INVOICE_SERIES).document(series_doc_id("refrain_ab", "SE1")).get()
    assert counter.get("last") == 100
    # Issue dates follow the numbers within the series.
    ordered = sorted(finalised, key=lambda inv: inv.sequence or 0)
    assert all(a.issued_at <= b.issued_at for a, b in itertools.pairwise(ordered))


@pytest.mark.timeout(60)
def test_refinalising_returns_the_stored_invoice_and_takes_no_number(
    cloud: CloudSettings,
) -> None:
    store = FirestoreInvoiceStore(build_firestore(cloud))
    draft = build_invoice(invoice_paid(), CATALOG, "sv_SE", 4)
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda _: store.finalise(draft), range(5)))
    assert {r.number for r in results} == {f"{draft.series}-000001"}
    other = build_invoice(invoice_paid(charge_id="pi_2"), CATALOG, "sv_SE", 4)
    assert store.finalise(other).sequence == 2  # no number was lost to the duplicates
    stored = store.get(draft.invoice_id)
    assert stored == results[0]
    assert len(list(build_firestore(cloud).collection(INVOICES).stream())) == 2


@pytest.mark.timeout(120)
def test_separate_instances_racing_on_one_series_still_leave_no_gap(cloud: CloudSettings) -> None:
    """No shared local lock: only the Firestore transaction keeps the numbers gapless."""
    db = build_firestore(cloud)
    stores = [FirestoreInvoiceStore(db, local_lock=False) for _ in range(2)]
    drafts = [
        build_invoice(
            invoice_paid(charge_id=f"pi_x{i}", subscription_id=f"sub_x{i}"), CATALOG, "en", 1
        )
        for i in range(6)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        finalised = list(pool.map(lambda i: stores[i % 2].finalise(drafts[i]), range(6)))
    assert sorted(inv.sequence or 0 for inv in finalised) == list(range(1, 7))
