"""`refrain refunds create` on the emulators: the sandbox gateway refunds, the ledger credits."""

from __future__ import annotations

import json

from refrain.adapters.firestore_collections import OUTBOX, keyed
from refrain.adapters.firestore_invoices import FirestoreInvoiceStore
from refrain.adapters.firestore_outbox import events_of
from refrain.domain import load_catalog
from refrain.domain.events import EventType
from refrain.invoicing.builder import build_invoice
from refrain.invoicing.model import Invoice
from tests.integration.care.conftest import Ops


def _invoice(ops: Ops) -> Invoice:
    entry = keyed(ops.db, OUTBOX, "stripe:evt_checkout_sub_care_1").get().to_dict() or {}
    [paid] = [e for e in events_of(entry) if e.type is EventType.INVOICE_PAID]
    draft = build_invoice(paid, load_catalog(), "sv_SE", 4)
    return FirestoreInvoiceStore(ops.db).finalise(draft)


def test_refunds_through_the_cli_credit_once_and_refuse_too_much(ops: Ops) -> None:
    ops.seed()
    invoice = _invoice(ops)
    args = ["refunds", "create", invoice.number, "--reason", "requested_by_customer",
            "--amount", "20.00", "--request-id", "cs-1",
            "--at", "2025-01-03T00:00:00Z"]  # fmt: skip
    made = ops.cli(*args, "--json")
    assert made.exit_code == 0, made.output
    first = json.loads(made.stdout)
    assert first["status"] == "credited" and first["amount"] == 2000
    assert first["invoice"] == invoice.number and first["refund_id"] == "sbx_refund:cs-1"
    again = json.loads(ops.cli(*args, "--json").stdout)
    assert again["status"] == "duplicate" and again["refund_id"] == first["refund_id"]
    [event] = [m for m in ops.pull("churn-export", 1, settle=True)]
    assert event.attributes["type"] == "charge.refunded"

    too_much = ops.cli("refunds", "create", "sub_care_1", "--reason", "x", "--amount", "500",
                       "--request-id", "cs-2")  # fmt: skip
    assert too_much.exit_code == 1 and "exceeds what is left to refund" in too_much.output
    bad = ops.cli("refunds", "create", "sub_care_1", "--reason", "x", "--amount", "1.001",
                  "--request-id", "cs-3")  # fmt: skip
    assert bad.exit_code == 2 and "not an amount in SEK" in bad.output
    unknown = ops.cli("refunds", "create", "SE9-999999", "--reason", "x", "--request-id", "cs-4")
    assert unknown.exit_code == 1 and "no paid invoice" in unknown.output
    rest = ops.cli("refunds", "create", "sub_care_1", "--reason", "cancelled",
                   "--request-id", "cs-5", "--json")  # fmt: skip
    assert json.loads(rest.stdout)["amount"] == invoice.gross_total.amount - 2000
    assert ops.pull("churn-export", 1, settle=True)  # one more credit, published
