"""Google Play: push decoding, OIDC push authentication, and purchase → state report."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.domain.catalog import load_catalog
from refrain.domain.inputs import ProviderStateReported, ProviderStatus
from refrain.domain.subscription import ChurnType
from refrain.ingest.model import MappingError, subscription_id_for
from refrain.ingest.rejections import BadSignature, Malformed
from refrain.providers.google_play_mapping import PlayConfig, normalise_play, rfc3339
from refrain.providers.google_play_push_auth import PushAuthenticator, VerifierUnavailable
from refrain.providers.google_play_rtdn import decode_push, event_time
from refrain_tools.simulator.google_play import (
    AUDIENCE,
    PUSH_ACCOUNT,
    GoogleSigner,
    google_signer,
    play_envelope,
    play_purchase,
)
from tests.unit.providers.support import PLAY_FIXTURES, play_fixture

CATALOG = load_catalog()
CONFIG = PlayConfig(product_plans={"premium_monthly": "individual_monthly"})
TOKEN = "fixture-purchase-token.AO-J1OxFIXTUREFIXTUREFIXTURE"
PUSHES = sorted(p.name for p in PLAY_FIXTURES.glob("push_*.json"))


@dataclass
class FakePurchases:
    """In-memory PlayPurchases (unit tests only)."""

    purchase: dict[str, Any] = field(default_factory=play_purchase)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def get_subscription(self, package_name: str, purchase_token: str) -> dict[str, Any]:
        self.calls.append((package_name, purchase_token))
        return self.purchase


@pytest.mark.parametrize("name", PUSHES)
def test_every_fixture_push_decodes(name: str) -> None:
    push = decode_push(play_fixture(name))
    decoded = json.loads((PLAY_FIXTURES / "decoded" / name.removeprefix("push_")).read_text())
    assert push.notification == decoded
    assert push.message_id == play_fixture(name)["message"]["messageId"]
    assert push.event_time == datetime.fromtimestamp(int(decoded["eventTimeMillis"]) / 1000, UTC)
    assert push.package_name == "com.example.app"
    stem = name.removeprefix("push_").removesuffix(".json")
    expected = stem.split("_", 1)[-1] if stem[0].isdigit() else stem
    assert push.type_name() == expected.upper()


# state of the purchase (what the API says) for each fixture's notification
FIXTURE_STATES = {
    "push_01_SUBSCRIPTION_RECOVERED.json": ("SUBSCRIPTION_STATE_ACTIVE", ProviderStatus.ACTIVE),
    "push_02_SUBSCRIPTION_RENEWED.json": ("SUBSCRIPTION_STATE_ACTIVE", ProviderStatus.ACTIVE),
    "push_03_SUBSCRIPTION_CANCELED.json": ("SUBSCRIPTION_STATE_CANCELED", ProviderStatus.ACTIVE),
    "push_04_SUBSCRIPTION_PURCHASED.json": ("SUBSCRIPTION_STATE_ACTIVE", ProviderStatus.ACTIVE),
    "push_05_SUBSCRIPTION_ON_HOLD.json": ("SUBSCRIPTION_STATE_ON_HOLD", ProviderStatus.ON_HOLD),
    "push_06_SUBSCRIPTION_IN_GRACE_PERIOD.json": (
        "SUBSCRIPTION_STATE_IN_GRACE_PERIOD",
        ProviderStatus.IN_GRACE,
    ),
    "push_12_SUBSCRIPTION_REVOKED.json": ("SUBSCRIPTION_STATE_EXPIRED", ProviderStatus.REVOKED),
    "push_13_SUBSCRIPTION_EXPIRED.json": ("SUBSCRIPTION_STATE_EXPIRED", ProviderStatus.EXPIRED),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_STATES))
def test_each_fixture_notification_maps_to_the_state_the_api_reports(name: str) -> None:
    state, status = FIXTURE_STATES[name]
    api = FakePurchases(play_purchase(state, auto_renew=state == "SUBSCRIPTION_STATE_ACTIVE"))
    push = decode_push(play_fixture(name))
    event = normalise_play(push, api, CATALOG, CONFIG)
    assert api.calls == [("com.example.app", TOKEN)]
    got = event.input
    assert isinstance(got, ProviderStateReported)
    assert got.status is status and got.occurred_at == push.event_time
    assert got.input_id == push.message_id and event.dedupe_key == f"google_play:{push.message_id}"
    assert event.subject is not None
    assert event.subject.subscription_id == subscription_id_for("google_play", TOKEN)
    assert got.plan == "individual_monthly" and got.paid_amount is None
    assert event.draft is not None
    assert (event.draft.account_id, event.draft.market) == ("acct_play_1", "SE")
    assert got.cancel_at_period_end is (state == "SUBSCRIPTION_STATE_CANCELED")


def test_dates_and_churn_come_from_the_purchase() -> None:
    expiry = datetime(2024, 8, 25, 23, 26, 40, 123000, tzinfo=UTC)
    push = decode_push(play_fixture("push_05_SUBSCRIPTION_ON_HOLD.json"))
    hold = normalise_play(
        push,
        FakePurchases(play_purchase("SUBSCRIPTION_STATE_ON_HOLD")),
        CATALOG,
        PlayConfig(hold_days=30, product_plans=CONFIG.product_plans),
    )
    assert isinstance(hold.input, ProviderStateReported)
    assert hold.input.until == expiry + timedelta(days=30)
    cancelled = play_purchase(
        "SUBSCRIPTION_STATE_EXPIRED",
        canceledStateContext={
            "userInitiatedCancellation": {
                "cancelSurveyResult": {"reason": "CANCEL_SURVEY_REASON_COST_RELATED"}
            }
        },
    )
    push = decode_push(play_fixture("push_13_SUBSCRIPTION_EXPIRED.json"))
    expired = normalise_play(push, FakePurchases(cancelled), CATALOG, CONFIG).input
    assert isinstance(expired, ProviderStateReported)
    assert (expired.until, expired.churn_type, expired.cancel_reason) == (
        expiry,
        ChurnType.VOLUNTARY,
        "too_expensive",
    )
    billing = play_purchase(
        "SUBSCRIPTION_STATE_EXPIRED", canceledStateContext={"systemInitiatedCancellation": {}}
    )
    expired = normalise_play(push, FakePurchases(billing), CATALOG, CONFIG).input
    assert isinstance(expired, ProviderStateReported)
    assert expired.churn_type is ChurnType.INVOLUNTARY
    paused = play_purchase(
        "SUBSCRIPTION_STATE_PAUSED",
        pausedStateContext={"autoResumeTime": "2024-09-25T00:00:00Z"},
    )
    got = normalise_play(push, FakePurchases(paused), CATALOG, CONFIG).input
    assert isinstance(got, ProviderStateReported) and got.status is ProviderStatus.PAUSED
    assert got.until == datetime(2024, 9, 25, tzinfo=UTC)


def _push(notification: dict[str, Any], message_id: str = "m-1") -> Any:
    body = {"version": "1.0", "packageName": "com.example.app", "eventTimeMillis": 1721950000000}
    return decode_push(play_envelope({**body, **notification}, message_id))


def test_test_one_time_and_pending_notifications_are_ignored_without_calling_the_api() -> None:
    api = FakePurchases()
    for notification in (
        {"testNotification": {"version": "1.0"}},
        {"oneTimeProductNotification": {"purchaseToken": "t", "sku": "coins"}},
        {"subscriptionNotification": {"notificationType": 20, "purchaseToken": "t"}},
        {"voidedPurchaseNotification": {"purchaseToken": "t", "productType": 2}},
    ):
        event = normalise_play(_push(notification), api, CATALOG, CONFIG)
        assert event.input is None and event.ignored
    assert api.calls == []


def test_voided_subscription_purchase_revokes_only_when_the_subscription_ended() -> None:
    voided = {
        "voidedPurchaseNotification": {
            "purchaseToken": TOKEN,
            "orderId": "GPA.1",
            "productType": 1,
            "refundType": 1,
        }
    }
    running = normalise_play(_push(voided), FakePurchases(), CATALOG, CONFIG)
    assert running.input is None and "still" in str(running.ignored)
    ended = FakePurchases(play_purchase("SUBSCRIPTION_STATE_EXPIRED"))
    got = normalise_play(_push(voided), ended, CATALOG, CONFIG).input
    assert isinstance(got, ProviderStateReported) and got.status is ProviderStatus.REVOKED
    assert got.cancel_reason == "refunded"


@pytest.mark.parametrize(
    ("purchase", "match"),
    [
        (play_purchase(product="gold_weekly"), "not in the catalog"),
        (play_purchase(region="AQ"), "not in the catalog"),
        (play_purchase(lineItems=[]), "productId"),
        (
            play_purchase(lineItems=[{"productId": "premium_monthly", "expiryTime": "soon"}]),
            "expiryTime",
        ),
        (play_purchase(lineItems=[{"productId": "premium_monthly"}]), "needs 'until'"),
    ],
)
def test_unmappable_purchases_say_why(purchase: dict[str, Any], match: str) -> None:
    push = decode_push(play_fixture("push_02_SUBSCRIPTION_RENEWED.json"))
    with pytest.raises(MappingError, match=match):
        normalise_play(push, FakePurchases(purchase), CATALOG, CONFIG)


def test_purchase_without_account_has_no_draft_and_pending_is_ignored() -> None:
    push = decode_push(play_fixture("push_02_SUBSCRIPTION_RENEWED.json"))
    event = normalise_play(push, FakePurchases(play_purchase(account=None)), CATALOG, CONFIG)
    assert event.draft is None and event.input is not None
    pending = FakePurchases(play_purchase("SUBSCRIPTION_STATE_PENDING"))
    assert normalise_play(push, pending, CATALOG, CONFIG).ignored


def test_rfc3339_keeps_microseconds_of_nanosecond_timestamps() -> None:
    got = rfc3339("2024-08-25T23:26:40.123456789Z", "t")
    assert got == datetime(2024, 8, 25, 23, 26, 40, 123456, tzinfo=UTC)
    assert rfc3339("2024-08-25T23:26:40+02:00", "t") == datetime(
        2024, 8, 25, 21, 26, 40, tzinfo=UTC
    )
    for bad in ("2024-08-25T23:26:40", 5, "yesterday"):
        with pytest.raises(MappingError):
            rfc3339(bad, "t")


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_event_time_accepts_int_and_string_millis(millis: int) -> None:
    assert event_time(millis) == event_time(str(millis))
    assert abs(event_time(millis).timestamp() * 1000 - millis) < 1


@given(
    st.one_of(
        st.text().filter(lambda s: not s.strip().isdigit()),
        st.floats(),
        st.booleans(),
        st.none(),
        st.integers(max_value=-1),
    )
)
def test_event_time_refuses_anything_else(value: Any) -> None:
    with pytest.raises(Malformed):
        event_time(value)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "envelope",
    [
        None,
        [],
        {"message": "x"},
        {"message": {"data": _b64(b"{}")}},  # no messageId
        {"message": {"messageId": "1"}},  # no data
        {"message": {"messageId": "1", "data": "%%%"}},
        {"message": {"messageId": "1", "data": _b64(b"not json")}},
        {"message": {"messageId": "1", "data": _b64(b"[1]")}},
        {"message": {"messageId": "1", "data": _b64(b'{"eventTimeMillis": "1"}')}},
        {
            "message": {
                "messageId": "1",
                "data": _b64(b'{"packageName": "p", "eventTimeMillis": "soon"}'),
            }
        },
    ],
)
def test_malformed_envelopes_are_refused(envelope: Any) -> None:
    with pytest.raises(Malformed):
        decode_push(envelope)


# push authentication ----------------------------------------------------------


@dataclass
class _Response:
    status: int
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeCertsEndpoint:
    """Answers the certs URL like Google does (in memory)."""

    certs: dict[str, str]
    status: int = 200
    calls: int = 0

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> _Response:
        self.calls += 1
        return _Response(self.status, json.dumps(self.certs).encode())


def authenticator(endpoint: FakeCertsEndpoint | None = None, **overrides: Any) -> PushAuthenticator:
    settings: dict[str, Any] = {
        "audience": AUDIENCE,
        "service_account": PUSH_ACCOUNT,
        "certs_url": "http://certs.test/oauth2/v1/certs",
        "request": endpoint or FakeCertsEndpoint(google_signer().certs()),
    }
    settings.update(overrides)
    return PushAuthenticator(**settings)


def test_a_push_signed_for_our_audience_and_account_is_accepted() -> None:
    claims = authenticator().verify(f"Bearer {google_signer().token()}")
    assert claims["email"] == PUSH_ACCOUNT and claims["aud"] == AUDIENCE


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "no bearer"),
        ("Basic abc", "no bearer"),
        ("Bearer not-a-jwt", "refused"),
        (f"Bearer {google_signer().token(aud='https://elsewhere.example')}", "refused"),
        (f"Bearer {google_signer().token(email='someone@evil.example')}", "another"),
        (f"Bearer {google_signer().token(email_verified=False)}", "not verified"),
        (f"Bearer {google_signer().token(iss='https://evil.example')}", "not issued"),
        (f"Bearer {google_signer().token(iat=1_600_000_000, exp=1_600_003_600)}", "refused"),
        (f"Bearer {GoogleSigner().token()}", "refused"),  # a key Google never published
    ],
)
def test_unauthenticated_or_wrong_pushes_are_refused(header: str | None, why: str) -> None:
    with pytest.raises(BadSignature, match=why) as refused:
        authenticator().verify(header)
    assert refused.value.status == 401


def test_unconfigured_authentication_refuses_every_push() -> None:
    token = f"Bearer {google_signer().token()}"
    for overrides in ({"audience": None}, {"service_account": ""}):
        with pytest.raises(BadSignature, match="not configured"):
            authenticator(**overrides).verify(token)


def test_unreachable_certificates_are_a_retryable_503() -> None:
    endpoint = FakeCertsEndpoint({}, status=500)
    with pytest.raises(VerifierUnavailable) as unavailable:
        authenticator(endpoint).verify(f"Bearer {google_signer().token()}")
    assert unavailable.value.status == 503


def test_certificates_are_cached_between_pushes() -> None:
    from refrain.providers.google_play_push_auth import CachingRequest

    endpoint = FakeCertsEndpoint(google_signer().certs())
    auth = authenticator(request=CachingRequest(endpoint))
    for _ in range(3):
        auth.verify(f"Bearer {google_signer().token()}")
    assert endpoint.calls == 1
