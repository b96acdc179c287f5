"""The receipt_email function against Firestore and SES (moto), end to end."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email import message_from_string
from email.policy import default
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from pypdf import PdfReader

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import (
    CHARGES,
    CUSTOMERS,
    INVOICES,
    RECEIPT_SENDS,
    keyed,
)
from refrain.domain import DomainEvent, UnknownMarket, to_pubsub_message
from refrain.invoicing import RetryLater
from refrain.settings import CloudSettings
from refrain_tools.stack.mailbox import sent_raw_mail
from refrain_tools.stack.manager import StackManager
from tests.support import load_function
from tests.unit.invoicing.factories import (
    charge_refunded,
    dispute_closed,
    invoice_paid,
    payment_failed,
    renewed,
)

main = load_function("receipt_email")


def cloud_event(event: DomainEvent | None = None, *, data: bytes | None = None,
                attributes: dict[str, str] | None = None) -> CloudEvent:  # fmt: skip
    if event is not None:
        msg = to_pubsub_message(event)
        data, attributes = msg.data, msg.attributes
    return CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/p/topics/subscription-events",
        },
        {
            "message": {
                "data": base64.b64encode(data or b"").decode(),
                "attributes": attributes or {},
                "messageId": "m-1",
            }
        },
    )


@pytest.fixture
def env(cloud: CloudSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("REFRAIN_ACCOUNT_URL", "https://account.test")
    main.service.cache_clear()
    db = build_firestore(cloud)
    db.collection(CUSTOMERS).document("acct_1").set(
        {"email": "kim@example.com", "name": "Kim", "locale": "sv-SE", "market": "SE"}
    )
    yield db
    main.service.cache_clear()


def deliver_until_acked(event: DomainEvent, attempts: int = 20) -> None:
    """What Pub/Sub does: redeliver while the function raises RetryLater."""
    for _ in range(attempts):
        try:
            main.receipt_email(cloud_event(event))
            return
        except RetryLater:
            continue
    raise AssertionError("never acked")


def parsed(mail: dict[str, Any]) -> Any:
    return message_from_string(mail["raw_data"], policy=default)


@pytest.mark.timeout(120)
def test_five_concurrent_deliveries_send_one_receipt(env: Any, stack: StackManager) -> None:
    event = invoice_paid()
    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda _: deliver_until_acked(event), range(5)))
    deliver_until_acked(event)  # and a late redelivery after the send
    [mail] = sent_raw_mail(stack.config)
    message = parsed(mail)
    [invoice] = [doc.to_dict() for doc in env.collection(INVOICES).stream()]
    assert invoice["number"] in message["Subject"]
    assert message["To"] == "kim@example.com"
    pdf = next(p for p in message.walk() if p.get_content_type() == "application/pdf")
    text = PdfReader(io.BytesIO(pdf.get_content())).pages[0].extract_text()
    assert invoice["number"] in text
    record = env.collection(RECEIPT_SENDS).document(invoice["invoice_id"]).get().to_dict()
    assert record["status"] == "sent" and record["message_id"] == mail["id"]


@pytest.mark.timeout(60)
def test_ses_failing_once_then_recovering_sends_one(env: Any, stack: StackManager) -> None:
    service = main.service()

    class FlakyOnce:
        def __init__(self, inner: Any) -> None:
            self.inner, self.failed = inner, False

        def send_raw(self, **kw: Any) -> str:
            if not self.failed:
                self.failed = True
                raise ConnectionError("SES endpoint unreachable")
            return str(self.inner.send_raw(**kw))

    service._mailer = FlakyOnce(service._mailer)
    with pytest.raises(ConnectionError):
        main.receipt_email(cloud_event(invoice_paid()))
    assert sent_raw_mail(stack.config) == []
    main.receipt_email(cloud_event(invoice_paid()))
    main.receipt_email(cloud_event(invoice_paid()))
    assert len(sent_raw_mail(stack.config)) == 1


@pytest.mark.timeout(60)
def test_refund_and_payment_failure_mail_once_each(env: Any, stack: StackManager) -> None:
    main.receipt_email(cloud_event(invoice_paid()))
    main.receipt_email(cloud_event(charge_refunded(amount=13900)))
    main.receipt_email(cloud_event(charge_refunded(amount=13900)))
    main.receipt_email(cloud_event(payment_failed()))
    subjects = [parsed(m)["Subject"] for m in sent_raw_mail(stack.config)]
    assert len(subjects) == 3
    assert any("kreditnota" in s for s in subjects)
    notice = parsed(sent_raw_mail(stack.config)[-1])
    assert "https://account.test/payment-method" in notice.get_body(("plain",)).get_content()


def test_a_lost_dispute_of_a_renewal_gets_a_credit_note_a_won_one_nothing(
    env: Any, stack: StackManager
) -> None:
    key = "sub_1:20250201T000000Z:1"  # a renewal: its invoice is named by our charge id
    keyed(env, CHARGES, key).set({"charge_id": key, "provider_refs": ["stripe:pi_renewal"]})
    main.receipt_email(cloud_event(invoice_paid(charge_id=key)))
    main.receipt_email(cloud_event(dispute_closed(amount=13900, won=True, charge_id="pi_renewal")))
    assert len(sent_raw_mail(stack.config)) == 1  # the receipt only
    lost = dispute_closed(amount=13900, won=False, charge_id="pi_renewal", sequence=6)
    main.receipt_email(cloud_event(lost))  # the dispute names Stripe's PaymentIntent
    main.receipt_email(cloud_event(lost))
    notes = [d.to_dict() for d in env.collection(INVOICES).stream()]
    [note] = [n for n in notes if n["kind"] == "credit_note"]
    assert note["original_number"] and note["totals"]["gross"]["amount"] == -13900
    assert note["series"].endswith("-CN")
    assert len(sent_raw_mail(stack.config)) == 2


def nothing_written(db: Any, stack: StackManager) -> bool:
    return (
        not list(db.collection(INVOICES).stream())
        and not list(db.collection(RECEIPT_SENDS).stream())
        and not sent_raw_mail(stack.config)
    )


@pytest.mark.timeout(60)
def test_bad_input(env: Any, stack: StackManager) -> None:
    # Malformed data: acked (returns), nothing written.
    main.receipt_email(cloud_event(data=b"not json", attributes={"type": "invoice.paid"}))
    main.receipt_email(cloud_event(data=b"\xff\xfe", attributes={}))
    # Another event type: acked before parsing.
    main.receipt_email(cloud_event(renewed()))
    main.receipt_email(cloud_event(data=b"{}", attributes={"type": "subscription.renewed"}))
    assert nothing_written(env, stack)
    # Unknown market: a clear error (redelivered, then dead-lettered), nothing written.
    with pytest.raises(UnknownMarket, match="'ZZ'"):
        main.receipt_email(cloud_event(invoice_paid(market="ZZ")))
    assert nothing_written(env, stack)


@pytest.mark.timeout(60)
def test_a_trials_zero_invoice_paid_is_acked_and_writes_nothing(
    env: Any, stack: StackManager
) -> None:
    # Stripe Billing's $0 invoice.paid at a trial's start: acked (no dead letter), no
    # invoice number taken, no e-mail, no send record.
    main.receipt_email(cloud_event(invoice_paid(amount=0, charge_id=None)))
    main.receipt_email(cloud_event(invoice_paid(amount=0, charge_id=None)))
    assert nothing_written(env, stack)
