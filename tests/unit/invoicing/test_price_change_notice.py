"""The price-change notice: both prices, the first renewal at the new one, in 7 languages."""

from __future__ import annotations

import pytest

from refrain.domain.events import DomainEvent, EventType
from refrain.domain.money import Money
from refrain.invoicing.i18n import localizer_for
from refrain.invoicing.messages import MESSAGES
from tests.unit.invoicing.factories import PERIOD_END, _base, event
from tests.unit.invoicing.test_receipt_service import Harness, plain


def price_change(
    *, consent: bool, consented: bool = False, market: str = "SE", old: int = 13900,
    new: int = 14900, currency: str = "SEK",
) -> DomainEvent:  # fmt: skip
    payload = {
        **_base("acct_1", "individual_monthly", market), "change_id": "individual_monthly:SE:v2",
        "old_amount": old, "amount": new, "currency": currency,
        "effective_at": PERIOD_END.isoformat(), "applies_from": PERIOD_END.isoformat(),
        "notice_days": 30, "consent_required": consent, "consented": consented,
    }  # fmt: skip
    return event(EventType.PRICE_CHANGE_SCHEDULED, payload, sequence=9)


# (locale, words of the body, the consent sentence, the no-action sentence)
CASES = [
    ("en_GB", "changes from", "please agree", "don't need to do anything"),
    ("sv_SE", "ändras från", "Godkänn", "behöver inte göra något"),
    ("de_DE", "ändert sich von", "stimme bitte", "musst nichts tun"),
    ("fr_FR", "passe de", "donnez votre accord", "rien à faire"),
    ("ja_JP", "に変更されます", "同意してください", "お手続きは不要です"),
    ("pt_BR", "muda de", "dê seu consentimento", "não precisa fazer nada"),
    ("es_MX", "cambia de", "acéptalo", "No tienes que hacer nada"),
]


@pytest.mark.parametrize(("locale", "body", "ask", "nothing"), CASES)
def test_the_notice_names_both_prices_and_the_date_in_the_customers_language(
    locale: str, body: str, ask: str, nothing: str
) -> None:
    loc = localizer_for(locale, "sv_SE")
    for consent, expected, absent in ((True, ask, nothing), (False, nothing, ask)):
        h = Harness(pdf=False, locale=locale)
        result = h.service.handle(price_change(consent=consent))
        assert (result.kind, result.outcome) == ("price_change", "sent")
        [mail] = h.mails()
        text = plain(mail)
        assert mail["Subject"] == MESSAGES[loc.language]["subject_price_change"]
        assert body in text and expected in text and absent not in text
        assert loc.money(Money(13900, "SEK")) in text and loc.money(Money(14900, "SEK")) in text
        assert loc.date(PERIOD_END) in text
        assert "https://acct.example/subscription" in text


def test_a_consent_already_given_asks_for_nothing_and_redelivery_sends_once() -> None:
    h = Harness(pdf=False, locale="de_DE")
    made = price_change(consent=True, consented=True, market="DE", old=1099, new=1199,
                        currency="EUR")  # fmt: skip
    assert h.service.handle(made).outcome == "sent"
    assert h.service.handle(made).outcome == "already_sent"
    text = plain(h.mails()[0])
    assert "musst nichts tun" in text and "11,99" in text
