"""Signatures verify with our own verifiers; the test-card table decides as documented."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from refrain.domain.money import Money
from refrain.ingest.rejections import BadSignature, StaleTimestamp
from refrain.providers.adyen_webhook import notification_items, verify_adyen
from refrain.providers.stripe_signature import verify_stripe
from refrain_tools.simulator import events
from refrain_tools.simulator.outcomes import EXPIRED, INSUFFICIENT_FUNDS, STOLEN, Kind, decide
from refrain_tools.simulator.protocol import parse_reference, parse_stripe_form
from refrain_tools.simulator.signing import adyen_request, stripe_signature

SECRET = "whsec_sim"
KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_stripe_signature_verifies_and_breaks_on_any_change() -> None:
    body = json.dumps(events.stripe_event("invoice.paid", {}, AT)).encode()
    header = stripe_signature(body, SECRET)
    verify_stripe(body, header, [SECRET])
    with pytest.raises(BadSignature):
        verify_stripe(body + b" ", header, [SECRET])
    with pytest.raises(BadSignature):
        verify_stripe(body, header, ["whsec_other"])
    old = stripe_signature(body, SECRET, timestamp=1_000_000)
    with pytest.raises(StaleTimestamp):
        verify_stripe(body, old, [SECRET])


def test_adyen_items_verify_and_tampering_is_caught() -> None:
    item = events.adyen_refund(
        at=AT, original_reference="PSP1", merchant_reference="s:checkout", amount=Money(1099, "EUR")
    )
    request = adyen_request([item, item], KEY)
    items = notification_items(request)
    verify_adyen(items, KEY)
    assert "hmacSignature" not in item["additionalData"]  # the input is not mutated
    items[1]["amount"]["value"] = 1
    with pytest.raises(BadSignature):
        verify_adyen(items, KEY)
    with pytest.raises(BadSignature):
        verify_adyen(notification_items(adyen_request([item], KEY)), "00" * 32)


@pytest.mark.parametrize(
    ("method", "earlier", "kind", "refusal", "slow"),
    [
        ("pm_ok", 0, Kind.AUTHORISED, None, False),
        ("OK_7F3K", 0, Kind.AUTHORISED, None, False),
        ("pm_insufficient_funds", 5, Kind.DECLINED, INSUFFICIENT_FUNDS, False),
        ("STOLEN_1", 0, Kind.DECLINED, STOLEN, False),
        ("pm_expired", 0, Kind.DECLINED, EXPIRED, False),
        ("pm_flaky_2", 0, Kind.DECLINED, INSUFFICIENT_FUNDS, False),
        ("pm_flaky_2", 1, Kind.DECLINED, INSUFFICIENT_FUNDS, False),
        ("pm_flaky_2", 2, Kind.AUTHORISED, None, False),
        ("pm_timeout", 0, Kind.AUTHORISED, None, True),
        ("pm_nonsense", 0, Kind.UNKNOWN_METHOD, None, False),
        ("", 0, Kind.UNKNOWN_METHOD, None, False),
    ],
)
def test_outcome_table(method: str, earlier: int, kind: Kind, refusal: object, slow: bool) -> None:
    decision = decide(method, earlier)
    assert (decision.kind, decision.refusal, decision.slow) == (kind, refusal, slow)


def test_stripe_form_and_our_references_parse() -> None:
    form = "amount=1099&currency=eur&metadata[subscription_id]=s1&metadata[attempt]=0&confirm=true"
    assert parse_stripe_form(form) == {
        "amount": "1099",
        "currency": "eur",
        "metadata": {"subscription_id": "s1", "attempt": "0"},
        "confirm": "true",
    }
    assert parse_reference("s1:20260101T000000Z:3") == ("s1", AT)
    assert parse_reference("s1:checkout") == (None, None)
    assert parse_reference("s1:garbage:3") == ("s1", None)
