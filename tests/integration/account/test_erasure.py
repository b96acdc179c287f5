"""Erasure on the local stack: a subscriber made through the real paths (a signed Stripe
checkout through checkout_webhook, receipts through receipt_email into moto's SES), then
``POST /v1/me/erasure`` with a Firebase Auth emulator token, then every Firestore
collection, the stored webhook bodies and the mail sent afterwards searched for the
subscriber's e-mail and name.

moto's mailbox stands for what SES handed to the recipient's inbox before the erasure;
Refrain cannot (and SES does not) keep a copy to erase, so the check there is that
nothing reaches the address after it, even when the receipt events are delivered again.
"""

from __future__ import annotations

import json
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import functions_framework
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from google.cloud import firestore

from refrain.account.documents import json_safe
from refrain.adapters.firestore_collections import (
    CUSTOMERS,
    ERASURES,
    INVOICES,
    OUTBOX,
    RECEIPT_SENDS,
    SUBSCRIPTIONS,
    WEBHOOK_AUDIT,
    keyed,
)
from refrain.adapters.firestore_outbox import events_of
from refrain.domain.events import DomainEvent
from refrain.privacy.erasure import ALIAS_PREFIX, account_hash
from refrain.privacy.retention import CUSTOMER_RETENTION, SEND_RECORD_RETENTION, invoice_expire_at
from refrain_tools.cli import main as refrain_cli
from refrain_tools.stack.mailbox import sent_raw_mail
from refrain_tools.stack.manager import StackManager
from tests.integration.account.conftest import Api, Emulator, User
from tests.integration.account.test_account_api import _problem
from tests.integration.ingest.conftest import STRIPE_SECRET, ago, stripe_event
from tests.integration.invoicing.test_receipt_email_function import deliver_until_acked
from tests.integration.invoicing.test_receipt_email_function import main as receipts
from tests.support import ROOT, stripe_header
from tests.unit.invoicing.factories import charge_refunded

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
NAME = "Ingrid Fjällström-Erasure"


@pytest.fixture
def webhook(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    monkeypatch.setenv("REFRAIN_ACCOUNT_URL", "https://account.test")
    receipts.service.cache_clear()
    source = str(ROOT / "functions" / "checkout_webhook" / "main.py")
    yield functions_framework.create_app(target="checkout_webhook", source=source).test_client()
    receipts.service.cache_clear()


def subscribe(client: FlaskClient, db: firestore.Client, user: User, name: str) -> str:
    """A paid SE checkout for ``user`` through the webhook, then its receipts sent."""
    sub_id = f"sub_{uuid.uuid4().hex[:10]}"
    event = stripe_event("checkout.session.completed", id=f"evt_{sub_id}", created=ago(0.01))
    event["data"]["object"].update(
        mode="payment", payment_status="paid", payment_intent=f"pi_{sub_id}",
        amount_total=13900, currency="sek", client_reference_id=None,
        customer_details={**event["data"]["object"]["customer_details"],
                          "email": user.email, "name": name},
        metadata={"account_id": user.uid, "plan": "individual_monthly", "market": "SE",
                  "subscription_id": sub_id, "locale": "sv_SE"},
    )  # fmt: skip
    body = json.dumps(event).encode()
    answer = client.post("/stripe", data=body, headers={
        "Stripe-Signature": stripe_header(body, STRIPE_SECRET, int(time.time())),
        "Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 200, answer.get_data(as_text=True)
    for event_ in ledger_events(db, sub_id):
        deliver_until_acked(event_)
    return sub_id


def ledger_events(db: firestore.Client, sub_id: str) -> list[DomainEvent]:
    query = db.collection(OUTBOX).where(
        filter=firestore.FieldFilter("subscription_id", "==", sub_id)
    )
    return [e for snap in query.stream() for e in events_of(snap.to_dict() or {})]


def everything(db: firestore.Client) -> dict[str, str]:
    """Every document of every collection as text, stored webhook bodies decompressed."""
    found = {}
    for collection in db.collections():
        for snap in collection.stream():
            doc = snap.to_dict() or {}
            if isinstance(doc.get("body_zlib"), bytes):
                doc["body_zlib"] = zlib.decompress(doc["body_zlib"]).decode("utf-8", "replace")
            text = json.dumps(json_safe(doc), ensure_ascii=False)
            found[f"{collection.id}/{snap.id}"] = f"{snap.id} {text}".lower()
    return found


def holding(db: firestore.Client, *needles: str) -> list[str]:
    return sorted(p for p, t in everything(db).items() if any(n.lower() in t for n in needles))


def erase(api: Api, user: User, key: str | None = None) -> Any:
    return api.post(
        "/v1/me/erasure", None, **user.auth(**{"Idempotency-Key": key or uuid.uuid4().hex})
    )


def cancel(api: Api, user: User, sub_id: str) -> None:
    answer = api.post(f"/v1/me/subscriptions/{sub_id}/cancel", {},
                      **user.auth(**{"Idempotency-Key": uuid.uuid4().hex}))  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_erasure_leaves_no_email_or_name_anywhere_but_keeps_the_invoices(
    api: Api, emulator: Emulator, webhook: FlaskClient, stack: StackManager
) -> None:
    ana, bo = emulator.sign_up(), emulator.sign_up()
    sub_id = subscribe(webhook, api.db, ana, NAME)
    bo_sub = subscribe(webhook, api.db, bo, "Bo Bystander")
    # The real paths left the address and name behind: profile, audit body, mail.
    before = holding(api.db, ana.email, NAME)
    assert any(p.startswith("customers/") for p in before), before
    assert any(p.startswith("webhook_audit/") for p in before), before
    mails = [m for m in sent_raw_mail(stack.config) if ana.email in m["destinations"]]
    assert mails, "no receipt reached the subscriber"
    [invoice] = [doc for s in api.db.collection(INVOICES).stream()
                 if (doc := s.to_dict() or {}).get("subscription_id") == sub_id]  # fmt: skip
    # Still renewing: refused, nothing changed; the same key works after cancelling.
    key = uuid.uuid4().hex
    _problem(erase(api, ana, key), 409, "erasure-blocked")
    assert holding(api.db, ana.email, NAME) == before
    cancel(api, ana, sub_id)
    answer = erase(api, ana, key)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["status"] == "erased" and report["receipt"] == account_hash(ana.uid)
    counts = report["counts"]
    assert counts["customer_profiles"] == 1 and counts["audit_bodies"] >= 1
    assert counts["invoices_kept"] == 1 and counts["subscriptions"] == 1
    assert counts["email_records"] >= 1
    # Nothing anywhere holds the e-mail or the name; Bo's data is all there.
    assert holding(api.db, ana.email, NAME) == []
    assert holding(api.db, bo.email, "Bo Bystander")
    assert keyed(api.db, CUSTOMERS, bo.uid).get().exists
    # ... nor the account id, but for the Idempotency-Key records (two days, then TTL).
    left = [p for p in holding(api.db, ana.uid) if not p.startswith("idempotency_keys/")]
    assert left == []
    # The invoice is kept, byte for byte but for the account id (now the alias).
    kept = keyed(api.db, INVOICES, invoice["invoice_id"]).get().to_dict() or {}
    assert kept["account_id"].startswith(ALIAS_PREFIX) and kept["number"] == invoice["number"]
    assert {k: v for k, v in kept.items() if k != "account_id"} == {
        k: v for k, v in invoice.items() if k != "account_id"}  # fmt: skip
    sub = keyed(api.db, SUBSCRIPTIONS, sub_id).get().to_dict() or {}
    assert sub["account_id"] == kept["account_id"]
    record = api.db.collection(ERASURES).document(account_hash(ana.uid)).get().to_dict() or {}
    assert record["counts"] == counts and record["expire_at"] > record["erased_at"]
    # Receipt events delivered again mail nobody: the address is gone.
    sent = len(sent_raw_mail(stack.config))
    for event in ledger_events(api.db, sub_id):
        deliver_until_acked(event)
    assert len(sent_raw_mail(stack.config)) == sent
    # A refund event published before the erasure (it still names the account id): the
    # credit note is issued and kept, under an alias, and mailed to nobody.
    deliver_until_acked(charge_refunded(amount=13900, account_id=ana.uid, subscription_id=sub_id,
                                        charge_id=f"pi_{sub_id}", sequence=9))  # fmt: skip
    [note] = [doc for s in api.db.collection(INVOICES).stream()
              if (doc := s.to_dict() or {}).get("kind") == "credit_note"]  # fmt: skip
    assert note["original_number"] == invoice["number"]
    assert note["account_id"].startswith(ALIAS_PREFIX) and note["account_id"] != ana.uid
    assert len(sent_raw_mail(stack.config)) == sent
    assert holding(api.db, ana.email, NAME) == []
    # The same key replays; a second erasure finds nothing and says so.
    replay = erase(api, ana, key)
    assert replay.json() == report and replay.headers["Idempotent-Replayed"] == "true"
    again = erase(api, ana).json()
    assert again["status"] == "nothing_to_erase" and set(again["counts"].values()) == {0}
    assert again["erased_at"] == report["erased_at"]
    # Another user's token reaches none of it: Ana's invoice PDF is a 404 for Bo.
    _problem(api.get(f"/v1/me/invoices/{invoice['number']}.pdf", **bo.auth()), 404, "not-found")
    assert api.get("/v1/me/invoices", **ana.auth()).json()["invoices"] == []
    assert (keyed(api.db, SUBSCRIPTIONS, bo_sub).get().to_dict() or {})["account_id"] == bo.uid


def test_the_cli_runs_the_same_erasure_and_refuses_while_a_subscription_renews(
    api: Api, emulator: Emulator, webhook: FlaskClient
) -> None:
    ana = emulator.sign_up()
    sub_id = subscribe(webhook, api.db, ana, NAME)

    def run(*args: str) -> Any:
        return CliRunner().invoke(refrain_cli, ["privacy", "erase", *args])

    blocked = run(ana.uid, "--json")
    assert blocked.exit_code == 2 and json.loads(blocked.stdout)["cancel_first"] == [sub_id]
    cancel(api, ana, sub_id)
    done = run(ana.uid, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == "erased"  # the log line went to stderr
    assert json.loads(done.stderr)["message"] == "erasure"
    assert holding(api.db, ana.email, NAME) == []
    again = run(ana.uid)
    assert again.exit_code == 0 and again.stdout.startswith("nothing to erase")
    assert ana.email not in again.output and ana.uid not in again.output
    for bad in ("", "x" * 129, "erased-0123"):
        refused = run(bad)
        assert refused.exit_code == 2 and "ACCOUNT_ID" in refused.output


def test_every_record_with_personal_data_carries_its_expiry(
    api: Api, emulator: Emulator, webhook: FlaskClient
) -> None:
    ana = emulator.sign_up()
    sub_id = subscribe(webhook, api.db, ana, NAME)
    now = datetime.now(UTC)
    profile = keyed(api.db, CUSTOMERS, ana.uid).get().to_dict() or {}
    assert profile["expire_at"] - now > CUSTOMER_RETENTION - timedelta(minutes=5)
    [invoice] = [doc for s in api.db.collection(INVOICES).stream()
                 if (doc := s.to_dict() or {}).get("subscription_id") == sub_id]  # fmt: skip
    assert invoice["expire_at"] == invoice_expire_at("SE", invoice["issued_at"])
    send = keyed(api.db, RECEIPT_SENDS, invoice["invoice_id"]).get().to_dict() or {}
    assert send["expire_at"] - now > SEND_RECORD_RETENTION - timedelta(minutes=5)
    audits = [s.to_dict() or {} for s in api.db.collection(WEBHOOK_AUDIT).stream()]
    assert audits and all(a["expire_at"] > now for a in audits)
