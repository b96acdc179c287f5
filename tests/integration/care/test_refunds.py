"""Operator refunds end to end on the local stack: the real checkout_webhook over HTTP, the
Stripe and Adyen libraries against the simulated payments API, which then notifies the
same refund by webhook. Each refund is credited once, never beyond what was paid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud.firestore import FieldFilter

from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import OUTBOX
from refrain.adapters.firestore_invoices import FirestoreInvoiceStore
from refrain.adapters.firestore_outbox import events_of
from refrain.adapters.firestore_refunds import FirestoreRefundBook
from refrain.adapters.gateway_adyen import AdyenGateway
from refrain.adapters.gateway_stripe import StripeGateway
from refrain.bootstrap import build_refund_service
from refrain.care.refunds import RefundOrder, RefundService
from refrain.domain import ManualClock, Money, load_catalog
from refrain.domain.events import DomainEvent, EventType
from refrain.domain.refunds import RefundRefused, RequestStatus
from refrain.invoicing.builder import build_credit_note, build_invoice
from refrain.invoicing.model import DocumentKind, Invoice
from refrain.renewals.gateway import GatewayRouter
from refrain.settings import CloudSettings
from refrain_tools.simulator import DeliveryPolicy, WebhookSender, events
from refrain_tools.simulator.gateway import GatewaySimulator
from tests.integration.ingest.conftest import signed_sender

pytestmark = pytest.mark.integration
CATALOG = load_catalog()
SE = CATALOG.price("individual_monthly", "SE")
DE = CATALOG.price("duo_monthly", "DE")
PEOPLE: dict[str, Any] = {"email": "refund@example.com", "account_id": "acct_refund"}


@pytest.fixture
def sender(webhook_url: str) -> Iterator[WebhookSender]:
    # Deliveries wait for flush() (a window larger than any test sends): each test says when
    # the provider's notification arrives relative to the operator's answer.
    policy = DeliveryPolicy(
        seed=3, workers=2, max_attempts=5, backoff_base_s=0.05, shuffle_window=50
    )
    with signed_sender(webhook_url, policy) as running:
        yield running


@pytest.fixture
def sim(sender: WebhookSender) -> Iterator[GatewaySimulator]:
    with GatewaySimulator(webhooks=sender) as running:
        yield running


def _service(cloud: CloudSettings, sim: GatewaySimulator) -> RefundService:
    gateways = GatewayRouter({
        "stripe": StripeGateway.create("sk_test_simulator", sim.url),
        "adyen": AdyenGateway.create("adyen_test", "RefrainECOM", checkout_url=sim.url),
    })  # fmt: skip
    return build_refund_service(cloud, ManualClock(datetime.now(UTC)), gateways=gateways)


def _events(cloud: CloudSettings, sid: str) -> list[DomainEvent]:
    db = build_firestore(cloud)
    query = db.collection(OUTBOX).where(filter=FieldFilter("subscription_id", "==", sid))
    entries = query.stream()
    return [e for doc in entries for e in events_of(doc.to_dict() or {})]


def _invoice(cloud: CloudSettings, sid: str) -> Invoice:
    """The receipt path's invoice of the first payment (numbered in its series)."""
    [paid] = [e for e in _events(cloud, sid) if e.type is EventType.INVOICE_PAID]
    store = FirestoreInvoiceStore(build_firestore(cloud))
    return store.finalise(build_invoice(paid, CATALOG, "sv_SE", 4))


def _refunds(cloud: CloudSettings, sid: str) -> list[DomainEvent]:
    return [e for e in _events(cloud, sid) if e.type is EventType.CHARGE_REFUNDED]


def _checkout_stripe(sender: WebhookSender, sim: GatewaySimulator, sid: str, pi: str) -> None:
    at = datetime.now(UTC) - timedelta(days=3)
    sender.send_stripe(events.checkout_session_completed(
        at=at, subscription_id=sid, plan="individual_monthly", market="SE", amount=SE,
        locale="sv_SE", payment_intent=pi, **PEOPLE,
    ))  # fmt: skip
    assert sender.flush(timeout=60).final_statuses == {"200": 1}
    sim.save_payment("stripe", pi, SE, subscription_id=sid)


@pytest.mark.timeout(180)
def test_stripe_refunds_credit_once_and_never_beyond_what_was_paid(
    cloud: CloudSettings, sender: WebhookSender, sim: GatewaySimulator
) -> None:
    _checkout_stripe(sender, sim, "sub_rf", "pi_rf")
    invoice = _invoice(cloud, "sub_rf")
    service = _service(cloud, sim)
    order = RefundOrder(invoice.number, "goodwill", "req-1", Money(3_000, "SEK"))
    first = service.refund(order)
    assert first.status == "credited" and first.refund_id and first.refund_id.startswith("re_")
    sender.flush(timeout=60)  # Stripe's charge.refunded for the same refund arrives
    assert service.refund(order).status == "duplicate"  # same request id: no second refund
    assert sim.refunds.refunded() == {("stripe", "pi_rf"): 3_000}
    left = SE - Money(3_000, "SEK")
    with pytest.raises(RefundRefused, match="exceeds what is left"):
        too_much = left + Money(1, "SEK")
        service.refund(RefundOrder("sub_rf", "too much", "req-2", too_much))
    rest = service.refund(RefundOrder("sub_rf", "cancelled", "req-3"))  # all that is left
    sender.flush(timeout=60)
    assert rest.amount == left
    assert sim.refunds.refunded() == {("stripe", "pi_rf"): SE.amount}
    credited = [(e.payload["amount"], e.payload["charge_id"]) for e in _refunds(cloud, "sub_rf")]
    expected = [(3_000, "pi_rf"), (left.amount, "pi_rf")]
    assert sorted(credited) == sorted(expected)  # the webhooks for the same refunds added nothing
    tally = FirestoreRefundBook(build_firestore(cloud)).tally("pi_rf")
    assert tally is not None and tally.credited == SE.amount and tally.in_flight() == 0
    with pytest.raises(RefundRefused, match="nothing left"):
        service.refund(RefundOrder(invoice.number, "again", "req-4"))
    # The receipt path numbers a credit note in the credit-note series of the invoice's.
    store = FirestoreInvoiceStore(build_firestore(cloud))
    note = store.finalise(build_credit_note(_refunds(cloud, "sub_rf")[0], invoice, "sv_SE"))
    assert note.kind is DocumentKind.CREDIT_NOTE and note.series == f"{invoice.series}-CN"
    assert note.original_number == invoice.number


@pytest.mark.timeout(180)
def test_a_dashboard_refund_reported_first_leaves_only_the_rest_to_refund(
    cloud: CloudSettings, sender: WebhookSender, sim: GatewaySimulator
) -> None:
    _checkout_stripe(sender, sim, "sub_dash", "pi_dash")
    invoice = _invoice(cloud, "sub_dash")
    sender.send_stripe(events.charge_refunded(
        at=datetime.now(UTC), payment_intent="pi_dash", amount=SE, refunded=Money(5_000, "SEK"),
        metadata={"subscription_id": "sub_dash"},
    ))  # fmt: skip
    sender.flush(timeout=60)
    service = _service(cloud, sim)
    left = SE - Money(5_000, "SEK")
    with pytest.raises(RefundRefused, match="exceeds what is left"):
        service.refund(RefundOrder(invoice.number, "x", "req-a", left + Money(100, "SEK")))
    rest = service.refund(RefundOrder(invoice.number, "rest", "req-b"))
    assert rest.amount == left


@pytest.mark.timeout(180)
def test_an_adyen_refund_is_submitted_then_credited_by_its_refund_notification(
    cloud: CloudSettings, sender: WebhookSender, sim: GatewaySimulator
) -> None:
    at = datetime.now(UTC) - timedelta(days=3)
    psp = "PSPREFUND0000001"
    sender.send_adyen(events.adyen_checkout(
        at=at, subscription_id="sub_ady", plan="duo_monthly", market="DE", amount=DE,
        locale="de_DE", token="OK_DE", psp_reference=psp, **PEOPLE,
    ))  # fmt: skip
    sender.flush(timeout=60)
    sim.save_payment("adyen", psp, DE)
    invoice = _invoice(cloud, "sub_ady")
    service = _service(cloud, sim)
    submitted = service.refund(RefundOrder(invoice.number, "goodwill", "req-ad", Money(500, "EUR")))
    assert submitted.status == "submitted" and submitted.refund_id
    book = FirestoreRefundBook(build_firestore(cloud))
    waiting = book.tally(psp)
    assert waiting is not None and waiting.credited == 0 and waiting.in_flight() == 500
    sender.flush(timeout=60)  # Adyen's REFUND notification names the same refund
    done = book.tally(psp)
    assert done is not None and done.credited == 500 and done.in_flight() == 0
    assert done.request("req-ad").status is RequestStatus.CREDITED  # type: ignore[union-attr]
    [credit] = _refunds(cloud, "sub_ady")
    assert (credit.payload["amount"], credit.payload["charge_id"]) == (500, psp)
