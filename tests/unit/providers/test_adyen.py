"""Adyen HMAC per item over the published vectors, and every item's mapping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refrain.domain import load_catalog
from refrain.domain.inputs import (
    ChargebackOpened,
    CheckoutCompleted,
    DisputeClosed,
    PaymentFailed,
    PaymentMethodUpdated,
    PaymentSucceeded,
    RefundIssued,
)
from refrain.domain.money import Money
from refrain.ingest.model import subscription_id_for
from refrain.ingest.rejections import BadSignature, Malformed
from refrain.providers.adyen_webhook import (
    checkout_reference,
    normalise_adyen_item,
    notification_items,
    verify_adyen,
)
from refrain.providers.price_plans import ReferenceConvention
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


def _own_checkout(account: str = "acct_9", shopper: str | None = None) -> dict[str, Any]:
    """An authentic AUTHORISATION of Refrain's own checkout, signed as Adyen signs it."""
    [item] = items(SIGNED / "authorisation_success.json")
    item = dict(item)
    item["merchantReference"] = checkout_reference("sub_adyen_1", account, "duo_monthly", "DE")
    item["amount"] = {"currency": "EUR", "value": CATALOG.price("duo_monthly", "DE").amount}
    item["additionalData"] = {
        **item["additionalData"],
        "tokenization.shopperReference": shopper or account,
    }
    return adyen_sign(item, KEY)


def test_our_checkout_reference_creates_the_subscription_it_names() -> None:
    event = normalise_adyen_item(_own_checkout(), CATALOG)
    assert isinstance(event.input, CheckoutCompleted)
    assert event.subject is not None and event.subject.subscription_id == "sub_adyen_1"
    assert event.draft is not None
    assert (event.draft.account_id, event.draft.plan, event.draft.market) == (
        "acct_9",
        "duo_monthly",
        "DE",
    )
    # the token with the shopper reference it was stored under: the account's own
    assert event.draft.payment_method_ref == "acct_9:M5N7TQ4TG5PFWR50"
    assert event.input.amount == Money(CATALOG.price("duo_monthly", "DE").amount, "EUR")


def test_a_token_stored_under_another_shopper_is_not_taken() -> None:
    event = normalise_adyen_item(_own_checkout(shopper="someone_else"), CATALOG)
    assert isinstance(event.input, CheckoutCompleted)
    assert event.draft is not None and event.draft.payment_method_ref is None


def test_unsigned_metadata_creates_nothing() -> None:
    """Before references named what they create, metadata did; it is not signed."""
    [item] = items(SIGNED / "authorisation_success.json")
    item = dict(item, merchantReference="sub_adyen_2:checkout")
    item["additionalData"] = {
        **item["additionalData"],
        "metadata.plan": "duo_monthly",
        "metadata.market": "DE",
        "metadata.account_id": "acct_9",
    }
    event = normalise_adyen_item(adyen_sign(item, KEY), CATALOG)
    assert event.draft is None and isinstance(event.input, PaymentSucceeded)
    assert event.subject is not None and event.subject.subscription_id == "sub_adyen_2"


UNSIGNED_KEYS = st.sampled_from(
    [
        "metadata.account_id", "metadata.plan", "metadata.market", "shopperReference",
        "tokenization.shopperReference", "tokenization.storedPaymentMethodId",
        "recurring.shopperReference", "recurring.recurringDetailReference", "shopperEmail",
        "paymentMethod", "cardSummary", "merchantOrderReference",
    ]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    rewrites=st.dictionaries(UNSIGNED_KEYS, st.text(min_size=0, max_size=40), max_size=6),
    convention=st.booleans(),
)
def test_rewriting_unsigned_fields_changes_no_identity_amount_or_card(
    rewrites: dict[str, str], convention: bool
) -> None:
    """An authentic item with any additionalData rewritten still passes the HMAC (Adyen does
    not sign it); what it creates is the same customer, plan, market and amount, and the card
    is the signed account's own or none."""
    item = _authorised("ORD-90/acct_5/PREMIUM-DUO/DE") if convention else _own_checkout()
    rules = CONVENTION if convention else None
    signed: dict[str, Any] = adyen_sign(item, KEY)
    before = normalise_adyen_item(signed, CATALOG, rules)
    forged = dict(signed, additionalData={**signed["additionalData"], **rewrites})
    verify_adyen([forged], KEY)  # still authentic: the HMAC does not cover additionalData
    after = normalise_adyen_item(forged, CATALOG, rules)
    assert after.subject == before.subject and after.account_id == before.account_id
    assert after.draft is not None and before.draft is not None
    assert (after.draft.account_id, after.draft.plan, after.draft.market) == (
        before.draft.account_id, before.draft.plan, before.draft.market,
    )  # fmt: skip
    assert isinstance(after.input, CheckoutCompleted) and isinstance(
        before.input, CheckoutCompleted
    )
    assert after.input.amount == before.input.amount
    if not convention:
        card = after.draft.payment_method_ref
        assert card is None or card.startswith(f"{before.draft.account_id}:")


def test_our_charge_reference_carries_period_and_attempt() -> None:
    [item] = items(SIGNED / "authorisation_success.json")
    item = dict(item, merchantReference="sub_x:20260301T000000Z:3")
    event = normalise_adyen_item(item, CATALOG)
    assert isinstance(event.input, PaymentSucceeded)
    assert event.input.attempt == 3
    assert event.input.charge_period is not None and event.input.charge_period.month == 3
    assert event.subject is not None and event.subject.subscription_id == "sub_x"


# A business's own convention: "{order}/{account}/{product}/{country}".
CONVENTION = ReferenceConvention.from_config(
    r"(?P<order>[^/]+)/(?P<account>[^/]+)/(?P<plan>[^/]+)/(?P<market>[A-Z]{2})",
    {"PREMIUM-DUO": "duo_monthly"},
)


def _authorised(reference: str, plan: str = "duo_monthly", market: str = "DE") -> dict[str, Any]:
    [item] = items(SIGNED / "authorisation_success.json")
    price = CATALOG.price(plan, market)
    return dict(
        item,
        merchantReference=reference,
        amount={"currency": price.currency, "value": price.amount},
    )


def test_a_reference_to_the_merchant_s_convention_creates_the_subscription() -> None:
    reference = "ORD-77/acct:ü 9/PREMIUM-DUO/DE"  # the account may hold ":" and non-ASCII
    event = normalise_adyen_item(_authorised(reference), CATALOG, CONVENTION)
    assert isinstance(event.input, CheckoutCompleted)
    assert event.draft is not None
    assert (event.draft.account_id, event.draft.plan, event.draft.market) == (
        "acct:ü 9",
        "duo_monthly",
        "DE",
    )
    assert event.subject is not None
    assert event.subject.subscription_id == subscription_id_for("adyen", reference)


def test_the_convention_ignores_unsigned_metadata() -> None:
    item = _authorised("ORD-78/acct_1/PREMIUM-DUO/DE")
    item["additionalData"] = {**item["additionalData"], "metadata.account_id": "attacker"}
    event = normalise_adyen_item(item, CATALOG, CONVENTION)
    assert event.draft is not None and event.draft.account_id == "acct_1"


def test_renewals_and_refunds_of_a_convention_checkout_find_its_subscription() -> None:
    reference = "ORD-79/acct_2/PREMIUM-DUO/DE"
    sub_id = subscription_id_for("adyen", reference)
    renewal = _authorised(f"{sub_id}:20260401T000000Z:2")
    event = normalise_adyen_item(renewal, CATALOG, CONVENTION)
    assert isinstance(event.input, PaymentSucceeded)
    assert event.subject is not None and event.subject.subscription_id == sub_id
    assert event.input.attempt == 2
    [refund] = items(SIGNED / "refund_success.json")
    event = normalise_adyen_item(dict(refund, merchantReference=reference), CATALOG, CONVENTION)
    assert isinstance(event.input, RefundIssued)
    assert event.subject is not None and event.subject.subscription_id == sub_id


def test_a_convention_reference_naming_an_unknown_plan_or_market_is_unmatched() -> None:
    with pytest.raises(LookupError):
        normalise_adyen_item(_authorised("ORD-80/acct_3/GOLD/DE"), CATALOG, CONVENTION)
    with pytest.raises(LookupError):
        normalise_adyen_item(_authorised("ORD-81/acct_3/PREMIUM-DUO/ZZ"), CATALOG, CONVENTION)


def test_a_subscription_id_holding_colons_still_reads_its_renewal_reference() -> None:
    event = normalise_adyen_item(_authorised("adyen_a:b:c:20260301T000000Z:3"), CATALOG)
    assert isinstance(event.input, PaymentSucceeded)
    assert event.subject is not None and event.subject.subscription_id == "adyen_a:b:c"


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


@pytest.mark.parametrize(
    ("code", "kind", "won"),
    [
        ("NOTIFICATION_OF_CHARGEBACK", ChargebackOpened, None),
        ("CHARGEBACK", ChargebackOpened, None),
        ("DISPUTE_OPENED_WITH_CHARGEBACK", ChargebackOpened, None),
        ("CHARGEBACK_REVERSED", DisputeClosed, True),
        ("PREARBITRATION_WON", DisputeClosed, True),
        ("SECOND_CHARGEBACK", DisputeClosed, False),
        ("PREARBITRATION_LOST", DisputeClosed, False),
    ],
)
def test_dispute_stages_come_from_the_signed_event_code(
    code: str, kind: type, won: bool | None
) -> None:
    [item] = items(SIGNED / "chargeback.json")
    # disputeStatus is unsigned: a forged "Won" on a lost stage changes nothing.
    extra = dict(item.get("additionalData") or {}, disputeStatus="Won",
                 defensePeriodEndsAt="2026-12-24T10:00:00+01:00")  # fmt: skip
    event = normalise_adyen_item(dict(item, eventCode=code, additionalData=extra), CATALOG)
    assert isinstance(event.input, kind)
    assert event.input.dispute_id == item["pspReference"]  # type: ignore[union-attr]
    assert event.input.payment_ref == item["originalReference"]  # type: ignore[union-attr]
    if won is None:
        assert isinstance(event.input, ChargebackOpened)
        assert event.input.evidence_due_at is not None and event.input.evidence_due_at.hour == 9
    else:
        assert isinstance(event.input, DisputeClosed) and event.input.won is won


def test_a_renewal_s_dispute_names_the_renewal_charge() -> None:
    [item] = items(SIGNED / "chargeback.json")
    item = dict(item, merchantReference="sub_x:20260301T000000Z:1", eventCode="SECOND_CHARGEBACK")
    event = normalise_adyen_item(item, CATALOG)
    assert isinstance(event.input, DisputeClosed)
    assert event.input.charge_id == "sub_x:20260301T000000Z:1"
    assert event.subject is not None and event.subject.subscription_id == "sub_x"


def _card_update(success: bool = True, token: str | None = "TKN42") -> dict[str, Any]:
    extra: dict[str, object] = {
        "tokenization.shopperReference": "acct_9",
        "recurringProcessingModel": "Subscription",
    }
    if token:
        extra["tokenization.storedPaymentMethodId"] = token
    item: dict[str, object] = {
        "eventCode": "AUTHORISATION", "success": "true" if success else "false",
        "pspReference": "PSPZERO000000001",
        "merchantReference": "sub_9:payment-method:0123456789ab",
        "merchantAccountCode": "RefrainECOM", "amount": {"currency": "EUR", "value": 0},
        "eventDate": "2025-01-05T10:00:00+01:00", "additionalData": extra,
    }  # fmt: skip
    return adyen_sign(item, KEY)


def test_a_card_update_session_s_zero_authorisation_stores_the_token_and_moves_no_money() -> None:
    event = normalise_adyen_item(_card_update(), CATALOG)
    assert isinstance(event.input, PaymentMethodUpdated)  # never a PaymentSucceeded of 0
    assert event.input.payment_method_ref == "acct_9:TKN42"
    assert event.subject is not None and event.subject.subscription_id == "sub_9"
    refused = normalise_adyen_item(_card_update(success=False), CATALOG)
    assert refused.input is None and refused.ignored == "card verification refused"
    unstored = normalise_adyen_item(_card_update(token=None), CATALOG)
    assert unstored.input is None and unstored.ignored


def test_the_card_update_s_recurring_contract_finds_the_same_subscription() -> None:
    item = dict(_card_update())
    item.update(eventCode="RECURRING_CONTRACT", pspReference="TKN42",
                additionalData={"recurring.shopperReference": "acct_9"})  # fmt: skip
    event = normalise_adyen_item(adyen_sign(item, KEY), CATALOG)
    assert isinstance(event.input, PaymentMethodUpdated)
    assert event.input.payment_method_ref == "acct_9:TKN42"
    assert event.subject is not None and event.subject.subscription_id == "sub_9"
