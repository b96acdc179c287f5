"""The receipt service's decisions, with in-memory ports."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest

from refrain.domain import UnknownMarket, load_catalog
from refrain.domain.clock import ManualClock, utc
from refrain.invoicing import (
    CustomerNotFound,
    InvoicingError,
    OriginalInvoiceMissing,
    ReceiptConfig,
    ReceiptService,
    SendInProgress,
)
from refrain.invoicing.receipts import ERASED
from refrain.privacy.erasure import ALIAS_PREFIX
from tests.unit.invoicing.factories import (
    charge_refunded,
    event,
    expired,
    invoice_paid,
    on_hold,
    payment_failed,
    renewed,
    upgrade_declined,
)
from tests.unit.invoicing.fakes import (
    MemoryCustomers,
    MemoryInvoices,
    MemoryMailer,
    MemorySendRecords,
    customer,
)

CONFIG = ReceiptConfig(sender="receipts@refrain.example", account_url="https://acct.example/")


def plain(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None, "no text/plain part"
    return str(body.get_content())


class Harness:
    def __init__(self, failures: int = 0, locale: str | None = "sv_SE", pdf: bool = True) -> None:
        self.invoices = MemoryInvoices()
        self.customers = MemoryCustomers(customer(locale=locale))
        self.sends = MemorySendRecords()
        self.mailer = MemoryMailer(failures)
        self.clock = ManualClock(utc(2025, 1, 15, 9))
        self.service = ReceiptService(
            catalog=load_catalog(),
            invoices=self.invoices,
            customers=self.customers,
            sends=self.sends,
            mailer=self.mailer,
            config=ReceiptConfig(
                sender=CONFIG.sender, account_url=CONFIG.account_url, attach_pdf=pdf
            ),
            clock=self.clock,
        )

    def mails(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=default) for _, raw in self.mailer.sent]


def test_a_zero_invoice_paid_is_skipped_with_a_reason_and_the_first_paid_one_is_number_1() -> None:
    # A Stripe Billing trial starts with a $0 invoice.paid: no invoice, no number, no mail.
    h = Harness()
    trial = invoice_paid(amount=0, charge_id=None, sequence=1)
    for _ in range(2):
        result = h.service.handle(trial)
        assert (result.outcome, result.kind) == ("skipped", "receipt")
        assert result.reason is not None and "zero amount" in result.reason
        assert result.number is None and result.invoice_id is None
    assert h.invoices.docs == {} and h.invoices.counters == {}
    assert h.sends.records == {} and h.mailer.sent == []
    paid = h.service.handle(invoice_paid(sequence=2))
    assert paid.outcome == "sent" and paid.number is not None and paid.number.endswith("-000001")


def test_a_negative_invoice_paid_is_still_bad_data() -> None:
    with pytest.raises(InvoicingError, match="positive"):
        Harness().service.handle(invoice_paid(amount=-1))


def test_paid_invoice_is_numbered_and_mailed_once_whatever_the_deliveries() -> None:
    h = Harness()
    first = h.service.handle(invoice_paid())
    assert first.outcome == "sent" and first.number is not None
    for _ in range(4):
        again = h.service.handle(invoice_paid())
        assert (again.outcome, again.number) == ("already_sent", first.number)
    [mail] = h.mails()
    assert mail["To"] == "acct_1@example.com"
    assert first.number in mail["Subject"] and "kvitto" in mail["Subject"]
    assert [p.get_content_type() for p in mail.walk()][-1] == "application/pdf"
    assert h.sends.records[first.invoice_id]["message_id"] == first.message_id  # type: ignore[index]


def test_ses_failing_once_then_recovering_sends_one_mail() -> None:
    h = Harness(failures=1)
    with pytest.raises(ConnectionError):
        h.service.handle(invoice_paid())
    assert h.mailer.sent == []
    assert len(h.invoices.docs) == 1  # the invoice is final even though the mail failed
    result = h.service.handle(invoice_paid())  # the redelivery, at once: the lease was released
    assert result.outcome == "sent"
    assert len(h.mailer.sent) == 1
    assert h.sends.records[result.notice_id]["attempts"] == 2  # type: ignore[index]


def test_a_live_lease_held_elsewhere_means_retry_later_and_no_mail() -> None:
    h = Harness()
    draft_id = "inv_pi_1"
    h.sends.claim(draft_id, document_id=draft_id, kind="receipt", now=h.clock.now())
    with pytest.raises(SendInProgress):
        h.service.handle(invoice_paid())
    assert h.mailer.sent == []
    h.clock.advance(timedelta(minutes=2, seconds=1))  # the holder died; its lease ran out
    assert h.service.handle(invoice_paid()).outcome == "sent"
    assert len(h.mailer.sent) == 1


def test_missing_customer_is_retried_and_writes_nothing() -> None:
    h = Harness()
    with pytest.raises(CustomerNotFound):
        h.service.handle(invoice_paid(account_id="acct_unknown"))
    assert h.invoices.docs == {} and h.sends.records == {}


def test_unknown_market_is_a_clear_error_and_writes_nothing() -> None:
    h = Harness()
    with pytest.raises(UnknownMarket, match="'ZZ'"):
        h.service.handle(invoice_paid(market="ZZ"))
    assert h.invoices.docs == {} and h.sends.records == {} and h.mailer.sent == []


def test_other_event_types_are_ignored() -> None:
    h = Harness()
    assert h.service.handle(renewed()).outcome == "ignored"
    assert h.invoices.docs == {} and h.mailer.sent == []


def test_refund_issues_a_credit_note_against_the_invoice() -> None:
    h = Harness()
    paid = h.service.handle(invoice_paid())
    result = h.service.handle(charge_refunded(amount=13900))
    assert result.kind == "credit_note" and result.outcome == "sent"
    note = h.invoices.docs[result.invoice_id]  # type: ignore[index]
    assert note.original_number == paid.number
    assert note.gross_total.amount == -13900
    assert h.service.handle(charge_refunded(amount=13900)).outcome == "already_sent"
    assert len(h.mailer.sent) == 2


def test_refund_before_its_invoice_waits() -> None:
    h = Harness()
    with pytest.raises(OriginalInvoiceMissing):
        h.service.handle(charge_refunded(amount=100))
    assert h.invoices.docs == {}


def test_the_stored_locale_wins_on_redelivery() -> None:
    h = Harness(locale="de_DE", pdf=False)
    h.service.handle(invoice_paid())
    [mail] = h.mails()
    assert "Quittung" in mail["Subject"]


def test_payment_failed_notice_links_to_the_payment_method_page() -> None:
    h = Harness(pdf=False)
    result = h.service.handle(payment_failed())
    assert result.kind == "payment_failed" and result.outcome == "sent"
    [mail] = h.mails()
    text = plain(mail)
    assert "https://acct.example/payment-method" in text
    assert "139,00\xa0kr" in text and "18 februari 2025" in text
    assert h.service.handle(payment_failed()).outcome == "already_sent"


def test_hard_decline_notice_promises_no_retry() -> None:
    h = Harness(pdf=False, locale="en_GB")
    h.service.handle(payment_failed(hard=True))
    text = plain(h.mails()[0])
    assert "try again" not in text and "update your payment method" in text.lower()


def test_a_declined_upgrade_tells_the_customer_the_plan_did_not_change() -> None:
    h = Harness(pdf=False, locale="en_GB")
    result = h.service.handle(upgrade_declined())
    assert result.kind == "upgrade_declined" and result.outcome == "sent"
    [mail] = h.mails()
    text = plain(mail)
    assert "upgrade didn't go through" in mail["Subject"]
    assert "SEK" in text and "32.65" in text and "hasn't changed" in text
    assert "https://acct.example/payment-method" in text
    assert h.service.handle(upgrade_declined()).outcome == "already_sent"


@pytest.mark.parametrize(("make", "word"), [(on_hold, "pausat"), (expired, "avslutades")])
def test_hold_and_expiry_notices(make, word: str) -> None:  # type: ignore[no-untyped-def]
    h = Harness(pdf=False)
    assert h.service.handle(make()).outcome == "sent"
    assert word in plain(h.mails()[0])


@pytest.mark.parametrize("provider", ["google_play", "apple"])
def test_app_store_subscriptions_get_no_mail_from_us(provider: str) -> None:
    # The store is merchant of record and mails its customers; we hold no address for
    # them, so a notice would wait for a customer forever (and dead-letter).
    h = Harness()
    for made in (on_hold(account_id="acct_store"), expired(account_id="acct_store")):
        store = {**made.payload, "provider": provider, "billing_mode": "provider_managed"}
        result = h.service.handle(event(made.type, store, sequence=made.sequence))
        assert (result.outcome, result.kind) == ("ignored", "-")
        assert result.reason is not None and "merchant of record" in result.reason
    assert h.mailer.sent == [] and h.sends.records == {}


def test_an_erased_account_gets_its_documents_numbered_but_no_mail() -> None:
    h = Harness()
    h.customers.erased_ids.add("acct_gone")
    paid = h.service.handle(invoice_paid(account_id="acct_gone"))
    assert (paid.outcome, paid.kind, paid.reason) == ("skipped", "receipt", ERASED)
    [stored] = h.invoices.docs.values()
    assert paid.number == stored.number and stored.sequence == 1
    # An event published before the erasure still names the account id: not on the document.
    assert stored.account_id.startswith(ALIAS_PREFIX)
    refund = charge_refunded(amount=13900, account_id="acct_gone")
    note = h.service.handle(refund)
    assert (note.outcome, note.kind) == ("skipped", "credit_note")
    assert len(h.invoices.docs) == 2 and h.mailer.sent == [] and h.sends.records == {}
    notice = h.service.handle(payment_failed(account_id="acct_gone"))
    assert (notice.outcome, notice.reason) == ("skipped", ERASED) and h.mailer.sent == []
    # Already an alias: kept as it is.
    h.service.handle(invoice_paid(account_id="erased-0123", charge_id="ch_alias"))
    assert any(d.account_id == "erased-0123" for d in h.invoices.docs.values())
