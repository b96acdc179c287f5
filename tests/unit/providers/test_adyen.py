"""Adyen HMAC per item over the published vectors, and every item's mapping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from refrain.domain import load_catalog
from refrain.domain.inputs import (
    ChargebackOpened,
    CheckoutCompleted,
    PaymentFailed,
    PaymentMethodUpdated,
    PaymentSucceeded,
    RefundIssued,
)
from refrain.domain.money import Money
from refrain.ingest.rejections import BadSignature, Malformed
from refrain.providers.adyen_webhook import normalise_adyen_item, notification_items, verify_adyen
from tests.support import FIXTURES, adyen_sign

CATALOG = load_catalog()
SIGNED = FIXTURES / "adyen" / "signed"
KEY = json.loads((FIXTURES / "adyen" / "hmac_vectors.json").read_text())["vectors"][0][
    "hmac_key_hex"
]
VALID = sorted(p for p in SIGNED.glob("*.json") if not p.name.startswith("NEGATIVE"))
NEGATIVE = sorted(SIGNED.glob("NEGATIVE*.json"))


def items(path: Path) -> list[dict[str, Any]]:
    return notification_items(json.loads(path.read_text()))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_signed_fixtures_verify(path: Path) -> None:
    verify_adyen(items(path), KEY)


@pytest.mark.parametrize("path", NEGATIVE, ids=lambda p: p.stem)
def test_negative_fixtures_are_refused(path: Path) -> None:
    with pytest.raises(BadSignature):
        verify_adyen(items(path), KEY)


def test_wrong_key_and_missing_signature_are_refused() -> None:
    good = items(SIGNED / "capture.json")
    with pytest.raises(BadSignature):
        verify_adyen(good, "00" * 32)
    stripped = [{k: v for k, v in good[0].items() if k != "additionalData"}]
    with pytest.raises(BadSignature):
        verify_adyen(stripped, KEY)
    with pytest.raises(BadSignature):
        verify_adyen(good, None)


def test_every_item_is_checked_not_just_the_first() -> None:
    first = items(SIGNED / "capture.json")[0]
    tampered = json.loads(json.dumps(first))
    tampered["amount"]["value"] = 1
    with pytest.raises(BadSignature):
        verify_adyen([first, tampered], KEY)


@pytest.mark.parametrize(
    "payload", [[], {}, {"notificationItems": [{}]}, {"notificationItems": []}]
)
def test_malformed_requests(payload: Any) -> None:
    with pytest.raises(Malformed):
        notification_items(payload)


EXPECTED = {
    "authorisation_success": PaymentSucceeded,
    "authorisation_refused": PaymentFailed,
    "refund_success": RefundIssued,
    "chargeback": ChargebackOpened,
    "recurring_contract": PaymentMethodUpdated,
    "capture": type(None),
    "cancellation": type(None),
    "refund_failed": type(None),
}


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_items_map_to_inputs(path: Path) -> None:
    [item] = items(path)
    event = normalise_adyen_item(item, CATALOG)
    assert isinstance(event.input, EXPECTED[path.stem])
    assert event.subject is not None and event.subject.subscription_id
    assert event.event_id.startswith(item["pspReference"])
    if event.input is None:
        assert event.ignored


def test_refusal_reason_classifies_the_decline() -> None:
    [item] = items(SIGNED / "authorisation_refused.json")
    event = normalise_adyen_item(item, CATALOG)
    assert isinstance(event.input, PaymentFailed)
    assert event.input.decline.provider == "adyen"
    assert event.input.decline.code == "refused"
    assert not event.input.decline.hard


def test_checkout_authorisation_with_metadata_creates_the_subscription() -> None:
    [item] = items(SIGNED / "authorisation_success.json")
    item = dict(item)
    item["merchantReference"] = "sub_adyen_1:checkout"
    item["amount"] = {"currency": "EUR", "value": CATALOG.price("duo_monthly", "DE").amount}
    item["additionalData"] = {
        **item["additionalData"],
        "metadata.plan": "duo_monthly",
        "metadata.market": "DE",
        "metadata.account_id": "acct_9",
    }
    event = normalise_adyen_item(adyen_sign(item, KEY), CATALOG)
    assert isinstance(event.input, CheckoutCompleted)
    assert event.subject is not None and event.subject.subscription_id == "sub_adyen_1"
    # the token with the shopper reference it was stored under (not the account id)
    assert event.draft is not None
    assert event.draft.payment_method_ref == "YOUR_SHOPPER_REFERENCE:M5N7TQ4TG5PFWR50"
    assert event.input.amount == Money(CATALOG.price("duo_monthly", "DE").amount, "EUR")


def test_our_charge_reference_carries_period_and_attempt() -> None:
    [item] = items(SIGNED / "authorisation_success.json")
    item = dict(item, merchantReference="sub_x:20260301T000000Z:3")
    event = normalise_adyen_item(item, CATALOG)
    assert isinstance(event.input, PaymentSucceeded)
    assert event.input.attempt == 3
    assert event.input.charge_period is not None and event.input.charge_period.month == 3
    assert event.subject is not None and event.subject.subscription_id == "sub_x"


def test_recurring_contract_is_the_token_with_its_shopper_reference() -> None:
    [item] = items(SIGNED / "recurring_contract.json")
    event = normalise_adyen_item(item, CATALOG)
    assert isinstance(event.input, PaymentMethodUpdated)
    # pspReference (signed) is the token; the shopper reference it belongs to goes with it
    assert event.input.payment_method_ref == "YOUR_SHOPPER_REFERENCE:M5N7TQ4TG5PFWR50"
    forged = dict(item)
    forged["additionalData"] = {
        **item["additionalData"],
        "recurring.recurringDetailReference": "SOMEONE_ELSES",
    }
    ignored = normalise_adyen_item(adyen_sign(forged, KEY), CATALOG)
    assert ignored.input is None and ignored.ignored  # an unsigned token that disagrees


def test_the_renewal_sends_the_shopper_reference_the_token_was_stored_under() -> None:
    from refrain.adapters.gateway_adyen import split_ref

    assert split_ref("YOUR_SHOPPER_REFERENCE:M5N7TQ4TG5PFWR50") == (
        "YOUR_SHOPPER_REFERENCE",
        "M5N7TQ4TG5PFWR50",
    )
    assert split_ref("acct:with:colons:TOKEN") == ("acct:with:colons", "TOKEN")
    assert split_ref("TOKEN") == (None, "TOKEN") and split_ref(None) == (None, None)
