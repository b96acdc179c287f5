"""Decline-code mapping tables (Stripe decline codes, Adyen refusal reasons)."""

from __future__ import annotations

import pytest

from refrain.domain.declines import (
    ADYEN_CODES,
    ADYEN_REASONS,
    STRIPE_CODES,
    DeclineCategory,
    classify_adyen,
    classify_stripe,
)

pytestmark = pytest.mark.unit
C = DeclineCategory


@pytest.mark.parametrize(
    ("code", "decline_code", "category", "hard"),
    [
        ("card_declined", "insufficient_funds", C.INSUFFICIENT_FUNDS, False),
        ("card_declined", "generic_decline", C.OTHER, False),
        ("card_declined", None, C.OTHER, False),
        ("expired_card", None, C.EXPIRED_CARD, True),
        ("card_declined", "stolen_card", C.FRAUD_OR_STOLEN, True),
        ("card_declined", "lost_card", C.FRAUD_OR_STOLEN, True),
        ("card_declined", "fraudulent", C.FRAUD_OR_STOLEN, True),
        ("card_declined", "pickup_card", C.FRAUD_OR_STOLEN, True),
        ("card_declined", "restricted_card", C.FRAUD_OR_STOLEN, True),
        ("card_declined", "do_not_honor", C.DO_NOT_HONOR, False),
        ("card_declined", "do_not_try_again", C.DO_NOT_HONOR, True),
        ("card_declined", "try_again_later", C.PROCESSING_ERROR, False),
        ("processing_error", None, C.PROCESSING_ERROR, False),
        ("authentication_required", None, C.AUTHENTICATION_REQUIRED, True),
        ("card_declined", "authentication_required", C.AUTHENTICATION_REQUIRED, True),
        ("card_declined", "card_velocity_exceeded", C.INSUFFICIENT_FUNDS, False),
        ("incorrect_cvc", None, C.OTHER, True),
        ("card_declined", "Insufficient_Funds ", C.INSUFFICIENT_FUNDS, False),
    ],
)
def test_stripe_mapping(code: str, decline_code: str | None, category: C, hard: bool) -> None:
    decline = classify_stripe(code, decline_code)
    assert decline.category is category
    assert decline.hard is hard
    assert decline.provider == "stripe"


def test_stripe_unknown_code_is_soft_other_and_keeps_the_code() -> None:
    decline = classify_stripe("card_declined", "brand_new_code")
    assert decline.category is C.OTHER and decline.soft
    assert decline.code == "brand_new_code"


def test_stripe_fixture_payment_intent_failure() -> None:
    # shape of fixtures/stripe/events/payment_intent.payment_failed.json last_payment_error
    error = {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline"}
    assert classify_stripe(error["code"], error["decline_code"]).category is C.OTHER


@pytest.mark.parametrize(
    ("reason", "code", "category", "hard"),
    [
        ("Refused", None, C.OTHER, False),
        ("Not enough balance", None, C.INSUFFICIENT_FUNDS, False),
        ("Expired Card", None, C.EXPIRED_CARD, True),
        ("Stolen Card", None, C.FRAUD_OR_STOLEN, True),
        ("Blocked Card", None, C.FRAUD_OR_STOLEN, True),
        ("Acquirer Error", None, C.PROCESSING_ERROR, False),
        ("FRAUD", None, C.FRAUD_OR_STOLEN, True),
        ("Issuer Unavailable", None, C.PROCESSING_ERROR, False),
        ("Withdrawal count exceeded", None, C.INSUFFICIENT_FUNDS, False),
        ("Authentication required", None, C.AUTHENTICATION_REQUIRED, True),
        ("  not   ENOUGH balance ", None, C.INSUFFICIENT_FUNDS, False),
        (None, "12", C.INSUFFICIENT_FUNDS, False),
        (None, 6, C.EXPIRED_CARD, True),
        ("Refused", "20", C.FRAUD_OR_STOLEN, True),  # the code wins over the text
        ("Something new", None, C.OTHER, False),
        (None, None, C.OTHER, False),
    ],
)
def test_adyen_mapping(reason: str | None, code: str | int | None, category: C, hard: bool) -> None:
    decline = classify_adyen(reason, code)
    assert (decline.category, decline.hard) == (category, hard)
    assert decline.provider == "adyen"


def test_every_adyen_code_maps_to_a_known_reason() -> None:
    for code, reason in ADYEN_CODES.items():
        assert reason in ADYEN_REASONS, code


def test_fraud_and_stolen_are_always_hard() -> None:
    for table in (STRIPE_CODES, ADYEN_REASONS):
        for key, (category, hard) in table.items():
            if category is C.FRAUD_OR_STOLEN:
                assert hard, key
            if category is C.INSUFFICIENT_FUNDS:
                assert not hard, key
