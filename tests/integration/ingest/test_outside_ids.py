"""Identifiers chosen outside become document ids injectively (invariant 11).

Adyen's merchantReference is the merchant's own string (here it names the
subscription, as Refrain's checkout builds it) and Adyen's pspReference is
Adyen's; neither is ours to restrict. An authentic notification carrying `/`
was answered 503 on every retry (Firestore refused the path), and `a/b` and
`a_b` shared one document. Each must be answered 2xx and applied, on its own
documents.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from refrain.adapters.firestore_collections import keyed
from refrain.adapters.firestore_ledger import FirestoreLedger
from refrain.domain import load_catalog
from refrain.providers.adyen_webhook import checkout_reference
from tests.integration.ingest.conftest import Webhook
from tests.support import FIXTURES

# (subscription id in merchantReference, pspReference): "/" and "_" differ only in one
# character, and each of "\\", ":", "..", "__x__" and non-ASCII appears in both fields.
REFERENCES = (
    ("ord/1", "PSP/1"),
    ("ord_1", "PSP_1"),
    ("a\\b", "PSP\\2:x"),
    ("..", ".."),
    ("__x__", "__x__"),
    ("ünï/コード", "PSPé/ß"),
)


def checkout_item(sub_id: str, psp: str, account_id: str) -> dict[str, Any]:
    signed = json.loads((FIXTURES / "adyen" / "signed" / "authorisation_success.json").read_text())
    item: dict[str, Any] = signed["notificationItems"][0]["NotificationRequestItem"]
    price = load_catalog().price("individual_monthly", "DE")
    item.update(
        merchantReference=checkout_reference(sub_id, account_id, "individual_monthly", "DE"),
        pspReference=psp,
        eventDate=(datetime.now(UTC) - timedelta(days=1)).isoformat(),
        amount={"currency": price.currency, "value": price.amount},
    )
    item["additionalData"]["tokenization.shopperReference"] = account_id
    return item


def test_authentic_adyen_references_of_any_shape_are_accepted_and_applied(
    webhook: Webhook,
) -> None:
    for n, (sub_id, psp) in enumerate(REFERENCES):
        answer = webhook.post_adyen([checkout_item(sub_id, psp, f"acct/{n}")])
        assert answer.status_code == 200 and answer.data == b"[accepted]", (sub_id, answer.data)

    ledger = FirestoreLedger(webhook.db)
    for n, (sub_id, psp) in enumerate(REFERENCES):
        sub = webhook.subscription(sub_id)
        assert sub is not None, sub_id
        assert (sub["subscription_id"], sub["account_id"]) == (sub_id, f"acct/{n}")
        assert sub["state"] == "active"
        assert ledger.resolve_ref(f"adyen:{psp}") == sub_id
        entry = keyed(webhook.db, "outbox", f"adyen:{psp}:AUTHORISATION:true").get()
        assert entry.exists and (entry.to_dict() or {})["status"] == "applied"
        assert keyed(webhook.db, "customers", f"acct/{n}").get().exists
    # Two references differing only by "/" vs "_" are two subscriptions, each with its
    # own dedupe record, provider reference and customer.
    assert webhook.subscription("ord/1") != webhook.subscription("ord_1")
    audits = webhook.db.collection("webhook_audit").stream()
    outcomes = [(a.to_dict() or {})["outcome"] for a in audits]
    assert outcomes == ["applied"] * len(REFERENCES)

    # A redelivery finds its own dedupe record: acknowledged, nothing changes.
    before = webhook.subscription("ord/1")
    again = webhook.post_adyen([checkout_item("ord/1", "PSP/1", "acct/0")])
    assert again.status_code == 200 and webhook.subscription("ord/1") == before
