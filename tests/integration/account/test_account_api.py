"""account_api on the local stack with the Firebase Auth emulator: every route end to end."""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from refrain.adapters.firestore_collections import OUTBOX, SUBSCRIPTIONS, keyed
from tests.integration.account.conftest import (
    ORIGIN,
    SERVICE_ACCOUNT,
    SERVICE_AUDIENCE,
    Api,
    Emulator,
)
from tests.support import counted_reads

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"
ACTIONS = ("cancel", "revert-cancel", "change-plan", "pause", "resume")


def _jwt(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    def seg(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{seg(header)}.{seg(claims)}.{signature}"


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


@pytest.fixture
def reads() -> Iterator[Counter[str]]:
    """Firestore documents read and queries run, counted at the client's RPC layer."""
    with counted_reads() as counts:
        yield counts


def _problem(answer: Any, status: int, slug: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith(PROBLEM)
    body = dict(answer.json())
    assert body["type"] == f"https://refrain.dev/problems/{slug}" and body["status"] == status
    return body


# -- entitlement -------------------------------------------------------------------------


def test_entitlement_is_one_read_and_says_plan_until_and_why(
    api: Api, emulator: Emulator, reads: Counter[str]
) -> None:
    user = emulator.sign_up()
    none = api.get("/v1/me/entitlement", **user.auth())
    assert none.status_code == 200 and none.json()["has_access"] is False
    assert none.json()["reason"] == "none"
    sub_id = api.seed(user.uid)
    api.get("/v1/me/entitlement", **user.auth())  # warm: the first request builds the clients
    reads.clear()
    answer = api.get("/v1/me/entitlement", **user.auth())
    assert reads == Counter({"batch_get_documents": 1}), reads  # ONE document, nothing else
    body = answer.json()
    assert answer.status_code == 200
    assert (body["has_access"], body["reason"], body["plan"], body["subscription_id"]) == (
        True, "active", "individual_monthly", sub_id,
    )  # fmt: skip
    stored = keyed(api.db, SUBSCRIPTIONS, sub_id).get().to_dict() or {}
    assert body["until"].replace("Z", "+00:00") == stored["current_period_end"]
    cache = answer.headers["Cache-Control"]
    assert cache.startswith("private, max-age=") and 0 <= int(cache.split("=")[1]) <= 30
    assert "Authorization" in answer.headers["Vary"]


def test_a_cancellation_shows_in_the_entitlement_written_by_the_same_commit(
    api: Api, emulator: Emulator
) -> None:
    user = emulator.sign_up()
    sub_id = api.seed(user.uid)
    done = api.post(f"/v1/me/subscriptions/{sub_id}/cancel", {"reason": "too expensive"},
                    **user.auth(**{"Idempotency-Key": "cancel-0001"}))  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["subscription"]["cancel_at_period_end"] is True
    body = api.get("/v1/me/entitlement", **user.auth()).json()
    assert (body["has_access"], body["reason"]) == (True, "cancelled_at_period_end")


# -- subscriptions and actions -------------------------------------------------------------


def test_subscriptions_lists_only_the_callers_own(api: Api, emulator: Emulator) -> None:
    ana, bo = emulator.sign_up(), emulator.sign_up()
    mine = api.seed(ana.uid)
    api.seed(bo.uid)
    listed = api.get("/v1/me/subscriptions", **ana.auth())
    assert listed.status_code == 200
    subs = listed.json()["subscriptions"]
    assert [s["id"] for s in subs] == [mine]
    assert subs[0]["price"] == {"amount_minor": 11900, "currency": "SEK"} or subs[0]["price"]
    assert "payment_method_ref" not in listed.text and "watermarks" not in listed.text


def test_each_action_applies_through_the_ledger(api: Api, emulator: Emulator) -> None:
    user = emulator.sign_up()
    sub_id = api.seed(user.uid)
    base = f"/v1/me/subscriptions/{sub_id}"

    def act(action: str, body: Any, key: str) -> dict[str, Any]:
        answer = api.post(f"{base}/{action}", body, **user.auth(**{"Idempotency-Key": key}))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    assert act("cancel", {}, "key-cancel-1")["subscription"]["cancel_at_period_end"] is True
    assert (
        act("revert-cancel", None, "key-revert-1")["subscription"]["cancel_at_period_end"] is False
    )
    preview = api.post(f"{base}/change-plan", {"plan": "student_monthly", "preview": True},
                       **user.auth())  # fmt: skip
    assert preview.status_code == 200 and preview.json()["direction"] == "downgrade"
    assert preview.json()["next_renewal_amount"]["currency"] == "SEK"
    changed = act("change-plan", {"plan": "student_monthly"}, "key-plan-1")
    assert changed["status"] == "applied"
    assert changed["subscription"]["scheduled_plan"] == "student_monthly"
    assert act("pause", {}, "key-pause-1")["subscription"]["state"] == "paused"
    assert api.get("/v1/me/entitlement", **user.auth()).json()["reason"] == "paused"
    assert act("resume", {}, "key-resume-1")["subscription"]["state"] == "active"
    care = [d.id for d in api.db.collection(OUTBOX).list_documents() if d.id.startswith("care")]
    assert len(care) == 5  # one ledger entry per applied action, none for the preview


def test_an_upgrade_waits_for_its_charge(api: Api, emulator: Emulator) -> None:
    user = emulator.sign_up()
    sub_id = api.seed(user.uid)
    path = f"/v1/me/subscriptions/{sub_id}/change-plan"
    shown = api.post(path, {"plan": "family_monthly", "preview": True}, **user.auth()).json()
    assert shown["direction"] == "upgrade" and shown["charge"]["amount_minor"] > 0
    before = keyed(api.db, SUBSCRIPTIONS, sub_id).get().to_dict()
    assert before is not None and before["plan"] == "individual_monthly"  # preview wrote nothing
    answer = api.post(
        path, {"plan": "family_monthly"}, **user.auth(**{"Idempotency-Key": "upgrade-0001"})
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "payment_pending"


def test_an_illegal_action_is_a_409_problem(api: Api, emulator: Emulator) -> None:
    user = emulator.sign_up()
    sub_id = api.seed(user.uid)
    answer = api.post(f"/v1/me/subscriptions/{sub_id}/revert-cancel", None,
                      **user.auth(**{"Idempotency-Key": "revert-none"}))  # fmt: skip
    body = _problem(answer, 409, "action-not-allowed")
    assert "Traceback" not in answer.text and "firestore" not in answer.text.lower()
    assert body["detail"]  # the state machine's reason, for the subscriber


@pytest.mark.parametrize("action", ACTIONS)
def test_another_users_valid_token_gets_404_not_the_data(
    api: Api, emulator: Emulator, action: str
) -> None:
    owner, other = emulator.sign_up(), emulator.sign_up()
    sub_id = api.seed(owner.uid)
    body = {"plan": "student_monthly"} if action == "change-plan" else {}
    for headers in (other.auth(**{"Idempotency-Key": f"steal-{action}"}), other.auth()):
        answer = api.post(f"/v1/me/subscriptions/{sub_id}/{action}", body, **headers)
        _problem(answer, 404, "not-found")
        assert sub_id not in answer.text
    if action == "change-plan":
        ask = {"plan": "student_monthly", "preview": True}
        preview = api.post(f"/v1/me/subscriptions/{sub_id}/change-plan", ask, **other.auth())
        _problem(preview, 404, "not-found")
    assert (keyed(api.db, SUBSCRIPTIONS, sub_id).get().to_dict() or {})["state"] == "active"


def test_another_users_token_reads_only_their_own_entitlement_and_list(
    api: Api, emulator: Emulator
) -> None:
    owner, other = emulator.sign_up(), emulator.sign_up()
    sub_id = api.seed(owner.uid)
    entitlement = api.get("/v1/me/entitlement", **other.auth())
    assert entitlement.json()["has_access"] is False and sub_id not in entitlement.text
    listed = api.get("/v1/me/subscriptions", **other.auth())
    assert listed.json() == {"subscriptions": []}


# -- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/me/entitlement", "/v1/me/subscriptions"])
def test_missing_expired_and_forged_tokens_are_401(api: Api, emulator: Emulator, path: str) -> None:
    user = emulator.sign_up()
    claims = _claims(user.token)
    now = int(time.time())
    expired = _jwt({"alg": "none", "typ": "JWT"}, {**claims, "iat": now - 7200, "exp": now - 3600})
    other_project = _jwt({"alg": "none", "typ": "JWT"}, {**claims, "aud": "someone-else",
                          "iss": "https://securetoken.google.com/someone-else"})  # fmt: skip
    firebase = {"iss": "https://securetoken.google.com/refrain-local", "aud": "refrain-local",
                "sub": user.uid}  # fmt: skip
    from refrain_tools.simulator.google_play import GoogleSigner

    forged = GoogleSigner().token(**firebase)  # a key Google never published
    signed = api.google.signer.token(**firebase)
    head, _, tail = signed.split(".")
    tampered = ".".join([head, _jwt({}, {**_claims(signed), "sub": "victim"}).split(".")[1], tail])
    for token in ("", "garbage", expired, other_project, forged, tampered):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = api.get(path, **headers)
        _problem(answer, 401, "unauthenticated")
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    # The same claims signed by the key the certificate endpoint publishes: accepted.
    assert api.get(path, Authorization=f"Bearer {signed}").status_code == 200


def test_a_service_account_acts_for_an_account(api: Api, emulator: Emulator) -> None:
    user = emulator.sign_up()
    sub_id = api.seed(user.uid)
    token = api.google.signer.token(aud=SERVICE_AUDIENCE, email=SERVICE_ACCOUNT)
    answer = api.get("/v1/me/entitlement", Authorization=f"Bearer {token}",
                     **{"X-Refrain-Account": user.uid})  # fmt: skip
    assert answer.status_code == 200 and answer.json()["subscription_id"] == sub_id
    stranger = api.google.signer.token(aud=SERVICE_AUDIENCE, email="intruder@example.com")
    for bearer in (stranger, user.token):  # another account; a subscriber's token
        refused = api.get("/v1/me/entitlement", Authorization=f"Bearer {bearer}",
                          **{"X-Refrain-Account": user.uid})  # fmt: skip
        _problem(refused, 401, "unauthenticated")


# -- idempotency and limits --------------------------------------------------------------------


def test_a_replayed_idempotency_key_answers_the_same_and_applies_once(
    api: Api, emulator: Emulator
) -> None:
    user = emulator.sign_up()
    sub_id = api.seed(user.uid)
    path = f"/v1/me/subscriptions/{sub_id}/cancel"
    headers = user.auth(**{"Idempotency-Key": "same-key-123"})
    first = api.post(path, {"reason": "moving"}, **headers)
    again = api.post(path, {"reason": "moving"}, **headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    care = [d.id for d in api.db.collection(OUTBOX).list_documents() if d.id.startswith("care")]
    assert len(care) == 1
    different = api.post(path, {"reason": "something else"}, **headers)
    _problem(different, 422, "idempotency-key-reused")
    missing = api.post(path, {"reason": "moving"}, **user.auth())
    _problem(missing, 428, "idempotency-key-required")


def test_a_too_large_body_is_413(api: Api, emulator: Emulator) -> None:
    user = emulator.sign_up()
    sub_id = api.seed(user.uid)
    big = {"reason": "x" * 20_000}
    answer = api.post(f"/v1/me/subscriptions/{sub_id}/cancel", big,
                      **user.auth(**{"Idempotency-Key": "big-body-1"}))  # fmt: skip
    _problem(answer, 413, "body-too-large")
    assert (keyed(api.db, SUBSCRIPTIONS, sub_id).get().to_dict() or {})[
        "cancel_at_period_end"
    ] is False


def test_a_burst_is_rate_limited_with_retry_after(
    serve: Callable[..., Api], emulator: Emulator
) -> None:
    api = serve(REFRAIN_ACCOUNT_BURST="3", REFRAIN_ACCOUNT_RATE_PER_S="0.2")
    user, neighbour = emulator.sign_up(), emulator.sign_up()
    statuses = [api.get("/v1/me/entitlement", **user.auth()).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = api.get("/v1/me/entitlement", **user.auth())
    _problem(limited, 429, "rate-limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 5
    assert api.get("/v1/me/entitlement", **neighbour.auth()).status_code == 200  # per account


def test_a_burst_from_one_address_is_limited_before_authentication(
    serve: Callable[..., Api],
) -> None:
    api = serve(REFRAIN_ACCOUNT_IP_BURST="2", REFRAIN_ACCOUNT_IP_RATE_PER_S="0.1")
    statuses = [api.get("/v1/me/entitlement").status_code for _ in range(4)]
    assert statuses == [401, 401, 429, 429]


def test_cors_preflight_from_an_allowed_and_a_refused_origin(api: Api) -> None:
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key, content-type",
    }
    allowed = api.options("/v1/me/entitlement", Origin=ORIGIN, **ask)
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Idempotency-Key" in allowed.headers["Access-Control-Allow-Headers"]
    refused = api.options("/v1/me/entitlement", Origin="https://evil.example", **ask)
    _problem(refused, 403, "origin-not-allowed")
    assert "Access-Control-Allow-Origin" not in refused.headers
