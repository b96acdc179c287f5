"""Provider reasons -> taxonomy vocabulary, checked on the vendored provider fixtures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from refrain.churn import reasons
from refrain.churn.taxonomy import (
    CancelReason,
    ChurnType,
    DeclineCategory,
    DisputeReason,
    RefundReason,
    normalize,
)
from refrain.domain import DeclineCategory as DomainDeclineCategory
from refrain.domain import classify_stripe
from tests.support import FIXTURES


def _json(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


def _stripe_object(name: str) -> dict[str, Any]:
    return _json(f"stripe/events/{name}.json")["data"]["object"]  # type: ignore[no-any-return]


def test_apple_fixture_expiration_intent_is_a_voluntary_customer_cancel() -> None:
    info = _json("apple/decoded_payloads/signedRenewalInfo.json")
    assert info["expirationIntent"] == 1
    got = reasons.apple_expiration_intent(info["expirationIntent"])
    assert got == reasons.ChurnReason(CancelReason.CUSTOMER_REQUEST, ChurnType.VOLUNTARY)


@pytest.mark.parametrize(
    ("intent", "reason", "churn"),
    [
        (2, CancelReason.BILLING_FAILURE, ChurnType.INVOLUNTARY),
        ("3", CancelReason.PRICE_INCREASE, ChurnType.VOLUNTARY),
        (4, CancelReason.PRODUCT_UNAVAILABLE, ChurnType.INVOLUNTARY),
        (5, CancelReason.OTHER, None),
        (99, CancelReason.OTHER, None),
        (None, CancelReason.UNKNOWN, None),
        ("garbage", CancelReason.UNKNOWN, None),
    ],
)
def test_apple_expiration_intents(intent: object, reason: CancelReason, churn: object) -> None:
    got = reasons.apple_expiration_intent(intent)  # type: ignore[arg-type]
    assert (got.reason, got.churn_type) == (reason, churn)


def test_stripe_fixtures_without_details_map_to_unknown_not_to_a_guess() -> None:
    for name in ("customer.subscription.deleted", "customer.subscription.updated"):
        details = _stripe_object(name)["cancellation_details"]
        got = reasons.stripe_cancellation(details)
        assert got == reasons.ChurnReason(CancelReason.UNKNOWN, None)


def test_stripe_feedback_wins_and_reason_gives_the_churn_type() -> None:
    details = dict(_stripe_object("customer.subscription.deleted")["cancellation_details"])
    details.update(reason="cancellation_requested", feedback="too_expensive",
                   comment="Jane Doe <jane@example.com> says hi")  # fmt: skip
    got = reasons.stripe_cancellation(details)
    assert got == reasons.ChurnReason(CancelReason.TOO_EXPENSIVE, ChurnType.VOLUNTARY)
    failed = reasons.stripe_cancellation({"reason": "payment_failed", "feedback": None})
    assert failed == reasons.ChurnReason(CancelReason.BILLING_FAILURE, ChurnType.INVOLUNTARY)
    disputed = reasons.stripe_cancellation({"reason": "payment_disputed"})
    assert disputed.churn_type is ChurnType.REVOKED
    assert reasons.stripe_cancellation({"feedback": "brand_new_value"}).reason is CancelReason.OTHER


def test_stripe_dispute_and_refund_fixtures() -> None:
    assert reasons.stripe_dispute_reason(_stripe_object("charge.dispute.created")["reason"]) is (
        DisputeReason.GENERAL
    )
    assert reasons.stripe_dispute_reason("debit_not_authorized") is DisputeReason.FRAUDULENT
    assert reasons.stripe_dispute_reason("something_new") is DisputeReason.OTHER
    refunds = _stripe_object("charge.refunded")["refunds"]["data"]
    assert reasons.stripe_refund_reason(refunds[0]["reason"] if refunds else None) is None
    assert reasons.stripe_refund_reason("requested_by_customer") is (
        RefundReason.REQUESTED_BY_CUSTOMER
    )
    assert reasons.stripe_refund_reason("expired_uncaptured_charge") is RefundReason.OTHER


def test_stripe_fixture_decline_lands_in_the_decline_vocabulary() -> None:
    error = _stripe_object("payment_intent.payment_failed")["last_payment_error"]
    decline = classify_stripe(error["code"], error["decline_code"])
    assert normalize(DeclineCategory, decline.category.value, DeclineCategory.OTHER) is (
        DeclineCategory.OTHER
    )


def test_decline_vocabulary_mirrors_the_domain() -> None:
    assert {c.value for c in DeclineCategory} == {c.value for c in DomainDeclineCategory}


def test_google_play_fixtures_carry_no_context_so_reason_is_unknown() -> None:
    for path in sorted((FIXTURES / "google_play/decoded").glob("*.json")):
        note = json.loads(path.read_text())
        context = note.get("subscriptionNotification", {}).get("canceledStateContext")
        assert reasons.google_play_canceled_state(context).reason is CancelReason.UNKNOWN


@pytest.mark.parametrize(
    ("context", "reason", "churn"),
    [
        ({"userInitiatedCancellation": {"cancelSurveyResult": {
            "reason": "CANCEL_SURVEY_REASON_COST_RELATED", "reasonUserInput": "I am Jane"}}},
         CancelReason.TOO_EXPENSIVE, ChurnType.VOLUNTARY),
        ({"userInitiatedCancellation": {}}, CancelReason.CUSTOMER_REQUEST, ChurnType.VOLUNTARY),
        ({"systemInitiatedCancellation": {}}, CancelReason.BILLING_FAILURE,
         ChurnType.INVOLUNTARY),
        ({"developerInitiatedCancellation": {}}, CancelReason.MERCHANT_INITIATED, None),
        ({"replacementCancellation": {}}, CancelReason.REPLACED, None),
        ({"somethingNew": {}}, CancelReason.OTHER, None),
    ],
)  # fmt: skip
def test_google_play_canceled_state_context(
    context: dict[str, Any], reason: CancelReason, churn: ChurnType | None
) -> None:
    got = reasons.google_play_canceled_state(context)
    assert (got.reason, got.churn_type) == (reason, churn)


def test_google_play_v1_cancel_reason() -> None:
    assert reasons.google_play_cancel_reason_v1(0, 3).reason is CancelReason.TOO_EXPENSIVE
    assert reasons.google_play_cancel_reason_v1(0).reason is CancelReason.CUSTOMER_REQUEST
    assert reasons.google_play_cancel_reason_v1(1).churn_type is ChurnType.INVOLUNTARY
    assert reasons.google_play_cancel_reason_v1(2).reason is CancelReason.REPLACED
    assert reasons.google_play_cancel_reason_v1(None).reason is CancelReason.UNKNOWN


def test_apple_revocation_reason() -> None:
    assert reasons.apple_revocation_reason(1) is RefundReason.REQUESTED_BY_CUSTOMER
    assert reasons.apple_revocation_reason(0) is RefundReason.OTHER
    assert reasons.apple_revocation_reason(None) is None


def test_every_mapped_value_is_in_the_vocabulary() -> None:
    produced = [*reasons.STRIPE_FEEDBACK.values(), *reasons.GOOGLE_SURVEY.values()]
    produced += [r.reason for r in reasons.APPLE_EXPIRATION_INTENT.values()]
    produced += [r.reason for r in reasons.STRIPE_REASON.values()]
    assert all(isinstance(r, CancelReason) for r in produced)


def test_normalize_never_lets_free_text_through() -> None:
    assert normalize(CancelReason, " Too_Expensive ", CancelReason.OTHER) is (
        CancelReason.TOO_EXPENSIVE
    )
    assert normalize(CancelReason, "jane@example.com", CancelReason.OTHER) is CancelReason.OTHER
    assert normalize(CancelReason, 42, CancelReason.OTHER) is CancelReason.OTHER
    assert normalize(CancelReason, None, CancelReason.OTHER) is None
    assert normalize(CancelReason, "  ", CancelReason.OTHER) is None
