"""account_api's documents on the local stack with the Auth emulator: invoices in pages,
their PDFs, the data export; another user's token sees none of it.

Invoices are stored as the invoicing store stores them (``Invoice.to_dict`` under the
keyed invoice id), numbered in a series of their own per test so that numbers and issue
dates are the test's to choose; e-mail records go through the real send-record adapter.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from refrain.adapters.firestore_collections import CUSTOMERS, INVOICES, keyed
from refrain.adapters.firestore_invoices import FirestoreSendRecords
from refrain.domain import load_catalog
from refrain.invoicing import build_credit_note, build_invoice
from refrain.invoicing.model import Invoice
from tests.integration.account.conftest import Api, Emulator
from tests.integration.account.test_account_api import _problem
from tests.unit.invoicing.factories import charge_refunded, invoice_paid

pytestmark = pytest.mark.integration
CATALOG = load_catalog()


def _store(api: Api, invoice: Invoice) -> Invoice:
    keyed(api.db, INVOICES, invoice.invoice_id).set(invoice.to_dict())
    return invoice


def _invoices(api: Api, uid: str, sub_id: str, count: int) -> list[Invoice]:
    """``count`` receipts of ``uid``, a day apart, the last a minute ago; oldest first."""
    series = f"T{uuid.uuid4().hex[:8].upper()}"
    start = datetime.now(UTC) - timedelta(days=count, minutes=1)
    made = []
    for n in range(1, count + 1):
        at = start + timedelta(days=n)
        paid = invoice_paid(account_id=uid, subscription_id=sub_id,
                            charge_id=f"ch_{uuid.uuid4().hex[:12]}", at=at)  # fmt: skip
        draft = replace(build_invoice(paid, CATALOG, "sv_SE", 8), series=series, issued_at=at)
        made.append(_store(api, draft.numbered(n)))
    return made


def _credit_note(api: Api, original: Invoice) -> Invoice:
    refund = charge_refunded(amount=13900, account_id=original.account_id,
                             subscription_id=original.subscription_id,
                             charge_id=original.charge_id or "")  # fmt: skip
    note = build_credit_note(refund, original, "sv_SE")
    at = datetime.now(UTC) - timedelta(seconds=30)
    return _store(api, replace(note, series=original.series + "C", issued_at=at).numbered(1))


def test_invoices_are_the_callers_own_newest_first_in_pages(api: Api, emulator: Emulator) -> None:
    ana, bo = emulator.sign_up(), emulator.sign_up()
    receipts = _invoices(api, ana.uid, "sub_ana", 4)
    note = _credit_note(api, receipts[0])
    theirs = _invoices(api, bo.uid, "sub_bo", 1)
    numbers: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = f"?page_size=2&page_token={token}" if token else "?page_size=2"
        answer = api.get("/v1/me/invoices" + query, **ana.auth())
        assert answer.status_code == 200, answer.text
        assert answer.headers["Cache-Control"] == "private, no-store"
        body = answer.json()
        numbers += [i["number"] for i in body["invoices"]]
        pages += 1
        token = body["next_page_token"]
        if token is None:
            break
    assert pages == 3
    assert numbers == [note.number] + [r.number for r in reversed(receipts)]
    first = api.get("/v1/me/invoices", **ana.auth()).json()["invoices"][0]
    assert first["kind"] == "credit_note" and first["original_number"] == receipts[0].number
    assert first["gross"] == {"amount_minor": -13900, "currency": "SEK"}
    assert first["net"]["amount_minor"] + first["tax"]["amount_minor"] == -13900
    # Bo sees his own only, also with a page token that was Ana's.
    own = api.get("/v1/me/invoices", **bo.auth()).json()
    assert [i["number"] for i in own["invoices"]] == [theirs[0].number]
    ana_token = api.get("/v1/me/invoices?page_size=1", **ana.auth()).json()["next_page_token"]
    assert ana_token
    with_hers = api.get(f"/v1/me/invoices?page_token={ana_token}", **bo.auth()).json()
    assert {i["number"] for i in with_hers["invoices"]} <= {theirs[0].number}
    _problem(api.get("/v1/me/invoices?page_token=forged!", **ana.auth()), 400, "invalid-request")
    _problem(api.get("/v1/me/invoices?page_size=0", **ana.auth()), 400, "invalid-request")
    _problem(api.get("/v1/me/invoices"), 401, "unauthenticated")


def test_the_pdf_is_rendered_for_its_owner_and_404_for_anyone_else(
    api: Api, emulator: Emulator
) -> None:
    ana, bo = emulator.sign_up(), emulator.sign_up()
    receipt = _invoices(api, ana.uid, "sub_ana", 1)[0]
    note = _credit_note(api, receipt)
    answer = api.get(f"/v1/me/invoices/{receipt.number}.pdf", **ana.auth())
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"] == f'inline; filename="{receipt.number}.pdf"'
    assert answer.content.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(answer.content)).pages)
    assert receipt.number in text and "Kvitto" in text and "139,00" in text
    credit = api.get(f"/v1/me/invoices/{note.number}.pdf", **ana.auth())
    assert credit.status_code == 200
    credit_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(credit.content)).pages)
    assert note.number in credit_text and receipt.number in credit_text
    _problem(api.get(f"/v1/me/invoices/{receipt.number}.pdf", **bo.auth()), 404, "not-found")
    _problem(api.get("/v1/me/invoices/TNOPE-000001.pdf", **ana.auth()), 404, "not-found")
    _problem(api.get(f"/v1/me/invoices/{receipt.number}.pdf"), 401, "unauthenticated")


def test_the_data_export_holds_what_refrain_keeps_of_the_caller_only(
    api: Api, emulator: Emulator
) -> None:
    ana, bo = emulator.sign_up(), emulator.sign_up()
    keyed(api.db, CUSTOMERS, ana.uid).set(
        {"email": ana.email, "name": "Ana Export", "locale": "sv_SE", "market": "SE"}
    )
    keyed(api.db, CUSTOMERS, bo.uid).set({"email": bo.email, "name": "Bo Other"})
    sub_id = api.seed(ana.uid)
    bo_sub = api.seed(bo.uid)
    receipt = _invoices(api, ana.uid, sub_id, 1)[0]
    _invoices(api, bo.uid, bo_sub, 1)
    sends = FirestoreSendRecords(api.db)
    now = datetime.now(UTC)
    claim = sends.claim(receipt.invoice_id, document_id=receipt.invoice_id, kind="receipt", now=now)
    sends.record(receipt.invoice_id, owner=claim.owner, message_id="ses-msg-1", now=now)

    answer = api.get("/v1/me/data-export", **ana.auth())
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert answer.headers["Cache-Control"] == "private, no-store"
    out = answer.json()
    assert out["account_id"] == ana.uid
    # Art. 15(1)(d): how long it is kept is part of the answer (docs/PRIVACY.md).
    expires = datetime.fromisoformat(out["customer"].pop("expire_at"))
    assert expires > datetime.now(UTC) + timedelta(days=3 * 365)
    assert out["customer"] == {"email": ana.email, "name": "Ana Export", "locale": "sv_SE",
                               "market": "SE"}  # fmt: skip
    [sub] = out["subscriptions"]
    assert sub["subscription_id"] == sub_id and sub["state"]["account_id"] == ana.uid
    assert sub["state"]["state"] == "active"
    [entry] = sub["history"]
    assert (entry["type"], entry["status"]) == ("CheckoutCompleted", "applied")
    assert entry["at"] and entry["events"]
    assert [i["number"] for i in out["invoices"]] == [receipt.number]
    assert out["emails"] == [{"kind": "receipt", "status": "sent", "document": receipt.number,
                              "sent_at": out["emails"][0]["sent_at"],
                              "message_id": "ses-msg-1"}]  # fmt: skip
    text = answer.text
    assert bo.uid not in text and bo.email not in text and bo_sub not in text
    # Bo's own export has none of Ana's.
    theirs = api.get("/v1/me/data-export", **bo.auth()).text
    assert ana.uid not in theirs and ana.email not in theirs and sub_id not in theirs
    assert receipt.number not in theirs
    # Someone Refrain knows nothing about gets an empty document, not an error.
    nobody = api.get("/v1/me/data-export", **emulator.sign_up().auth()).json()
    assert nobody["customer"] is None and nobody["subscriptions"] == [] == nobody["invoices"]
