"""Invoices, PDFs and the data export with an in-memory store: paging, ownership, tokens."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader

from refrain.account.auth import Authenticator, ServiceCallers
from refrain.account.documents import (
    AccountDocuments,
    Cursor,
    LedgerRecord,
    SendRecord,
    json_safe,
    page_size,
)
from refrain.account.problems import Problem
from refrain.account.ratelimit import TokenBucket
from refrain.account.routes import AccountApi, Request, Response
from refrain.account.service import AccountService
from refrain.domain import load_catalog
from refrain.domain.clock import FixedClock
from refrain.domain.subscription import Subscription
from refrain.invoicing import build_credit_note, build_invoice
from refrain.invoicing.model import Invoice
from refrain.observability import get_logger
from tests.unit.account.test_routes import ORIGIN, problem, users
from tests.unit.care.test_care_service import NOW, active
from tests.unit.invoicing.factories import charge_refunded, invoice_paid

CATALOG = load_catalog()


def _invoice(account: str, sequence: int, days: int, charge: str) -> Invoice:
    paid = invoice_paid(account_id=account, charge_id=charge)
    built = build_invoice(paid, CATALOG, "sv_SE", 8)
    return replace(built, issued_at=NOW - timedelta(days=days)).numbered(sequence)


@dataclass
class MemoryDocuments:
    invoices: dict[str, Invoice] = field(default_factory=dict)  # by document id
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    subs: list[Subscription] = field(default_factory=list)
    ledger: dict[str, list[LedgerRecord]] = field(default_factory=dict)
    sent: dict[str, SendRecord] = field(default_factory=dict)

    def invoice_page(
        self, account_id: str, limit: int, after: Cursor | None
    ) -> list[tuple[str, Invoice]]:
        mine = [(d, i) for d, i in self.invoices.items() if i.account_id == account_id]
        mine.sort(key=lambda e: (e[1].issued_at, e[0]), reverse=True)
        if after is not None:
            mine = [e for e in mine if (e[1].issued_at, e[0]) < (after.issued_at, after.doc_id)]
        return mine[:limit]

    def invoice_by_number(self, account_id: str, number: str) -> Invoice | None:
        found = [i for i in self.invoices.values() if i.number == number]
        return next((i for i in found if i.account_id == account_id), None)

    def customer(self, account_id: str) -> dict[str, Any] | None:
        return self.customers.get(account_id)

    def subscriptions(self, account_id: str) -> list[Subscription]:
        return [s for s in self.subs if s.account_id == account_id]

    def history(self, subscription_id: str) -> list[LedgerRecord]:
        return self.ledger.get(subscription_id, [])

    def sends(self, notice_ids: Iterable[str]) -> list[SendRecord]:
        return [self.sent[i] for i in notice_ids if i in self.sent]


def store() -> MemoryDocuments:
    docs = MemoryDocuments()
    for n in range(1, 6):  # acct_1: five invoices, one a day; acct_2: one, the newest of all
        docs.invoices[f"d{n}"] = _invoice("acct_1", n, days=10 - n, charge=f"ch_{n}")
    docs.invoices["x"] = _invoice("acct_2", 6, days=0, charge="ch_x")
    original = docs.invoices["d1"]
    note = build_credit_note(charge_refunded(amount=13900, charge_id="ch_1"), original, "sv_SE")
    docs.invoices["c1"] = replace(note, issued_at=NOW - timedelta(hours=1)).numbered(1)
    return docs


def service(docs: MemoryDocuments) -> AccountDocuments:
    return AccountDocuments(docs, FixedClock(NOW), market_locale=lambda m: "sv_SE")


def test_a_page_token_round_trips_and_anything_else_is_refused() -> None:
    cursor = Cursor(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "inv_ch_1")
    assert Cursor.parse(cursor.token()) == cursor
    for bad in ("", "!!!", "e30", cursor.token()[:-3] + "A", "a" * 601):
        with pytest.raises(ValueError, match="not a page token"):
            Cursor.parse(bad)
    assert page_size(None) == 20 and page_size("100") == 100
    for bad in ("0", "101", "-1", "x", "1.5"):
        with pytest.raises(Problem):
            page_size(bad)


def test_invoices_are_the_callers_own_newest_first_in_pages() -> None:
    docs = store()
    listed, token, pages = [], None, 0
    while True:
        page = service(docs).invoices("acct_1", token, "2")
        listed += page.invoices
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert pages == 3
    assert [i.number for i in listed] == [
        docs.invoices[d].number for d in ("c1", "d5", "d4", "d3", "d2", "d1")
    ]
    note = listed[0]
    assert (note.kind, note.original_number) == ("credit_note", docs.invoices["d1"].number)
    assert note.gross.amount_minor == -13900
    assert note.net.amount_minor + note.tax.amount_minor == -13900
    assert listed[1].pdf == f"/v1/me/invoices/{docs.invoices['d5'].number}.pdf"
    assert service(docs).invoices("acct_3", None, None).invoices == []
    # acct_1's token used by acct_2 positions acct_2's own query: only acct_2's invoice, if any.
    first = service(docs).invoices("acct_1", None, "1").next_page_token
    assert first is not None
    others = service(docs).invoices("acct_2", first, None).invoices
    assert all(i.number == docs.invoices["x"].number for i in others)


def test_the_pdf_is_rendered_for_the_owner_only() -> None:
    docs = store()
    number = docs.invoices["d3"].number
    name, pdf = service(docs).pdf("acct_1", number)
    assert name == f"{number}.pdf" and pdf.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert number in text and "Kvitto" in text
    for account, asked in (("acct_2", number), ("acct_1", "SE-999999"), ("acct_1", "../x")):
        with pytest.raises(Problem) as refused:
            service(docs).pdf(account, asked)
        assert refused.value.type.status == 404


def test_the_export_holds_profile_subscriptions_history_invoices_and_emails() -> None:
    docs = store()
    docs.customers["acct_1"] = {"email": "ana@example.com", "name": "Ana", "locale": "sv_SE"}
    docs.customers["acct_2"] = {"email": "bo@example.com"}
    docs.subs = [active(), replace(active(), subscription_id="sub_9", account_id="acct_2")]
    docs.ledger["sub_1"] = [LedgerRecord("checkout_completed", "applied", NOW,
                                         (("subscription_started", "sub_1#1"),))]  # fmt: skip
    receipt = docs.invoices["d2"]
    docs.sent[receipt.invoice_id] = SendRecord(receipt.invoice_id, "receipt", "sent", NOW, "m-1")
    out = json.loads(service(docs).export("acct_1").model_dump_json())
    assert out["account_id"] == "acct_1" and out["customer"]["email"] == "ana@example.com"
    assert [s["subscription_id"] for s in out["subscriptions"]] == ["sub_1"]
    assert out["subscriptions"][0]["state"]["plan"] == "individual_monthly"
    assert out["subscriptions"][0]["history"] == [{
        "type": "checkout_completed", "status": "applied",
        "at": NOW.isoformat().replace("+00:00", "Z"), "events": ["subscription_started"],
    }]  # fmt: skip
    assert len(out["invoices"]) == 6
    assert out["emails"] == [{"kind": "receipt", "status": "sent", "document": receipt.number,
                              "sent_at": NOW.isoformat().replace("+00:00", "Z"),
                              "message_id": "m-1"}]  # fmt: skip
    text = json.dumps(out)
    assert "bo@example.com" not in text and "sub_9" not in text
    assert docs.invoices["x"].number not in text


def test_json_safe_turns_stored_values_into_json() -> None:
    doc = {"at": NOW, "n": [1, (2, b"\x00")], "x": 1.5, "odd": {3, 4}.__class__}
    safe = json_safe(doc)
    json.dumps(safe)
    assert safe["at"] == NOW.isoformat() and safe["n"] == [1, [2, "AA=="]]
    assert safe["x"] == 1.5 and safe["odd"] == "<class 'set'>"


def _api(docs: MemoryDocuments) -> AccountApi:
    log = get_logger("t")
    return AccountApi(
        AccountService(None, None, None, FixedClock(NOW)),  # type: ignore[arg-type]
        Authenticator(users, ServiceCallers(None, frozenset(), "http://certs.test")),
        frozenset({ORIGIN}), per_ip=TokenBucket(1.0, 100), per_account=TokenBucket(1.0, 100),
        log=log, documents=service(docs),
    )  # fmt: skip


def _get(api: AccountApi, path: str, query: dict[str, str] | None = None) -> Response:
    headers = [("Authorization", "Bearer acct_1")]
    return api.handle(Request.make("GET", path, headers, b"", query=(query or {}).items()))


def test_the_routes_answer_json_pages_pdfs_and_problems() -> None:
    docs = store()
    api = _api(docs)
    page = _get(api, "/v1/me/invoices", {"page_size": "4"})
    assert page.status == 200 and page.headers["Cache-Control"] == "private, no-store"
    body = json.loads(page.body)
    assert len(body["invoices"]) == 4 and body["next_page_token"]
    rest = _get(api, "/v1/me/invoices", {"page_token": body["next_page_token"]})
    assert len(json.loads(rest.body)["invoices"]) == 2
    problem(_get(api, "/v1/me/invoices", {"page_token": "nope!"}), 400, "invalid-request")
    problem(_get(api, "/v1/me/invoices", {"page_size": "1000"}), 400, "invalid-request")
    number = docs.invoices["d1"].number
    pdf = _get(api, f"/v1/me/invoices/{number}.pdf")
    assert (pdf.status, pdf.content_type) == (200, "application/pdf")
    assert pdf.data is not None and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == f'inline; filename="{number}.pdf"'
    problem(_get(api, f"/v1/me/invoices/{docs.invoices['x'].number}.pdf"), 404, "not-found")
    problem(_get(api, f"/v1/me/invoices/{number}"), 404, "not-found")
    export = _get(api, "/v1/me/data-export")
    assert export.status == 200 and "attachment" in export.headers["Content-Disposition"]
    assert json.loads(export.body)["account_id"] == "acct_1"
