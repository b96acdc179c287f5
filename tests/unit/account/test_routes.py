"""The account API's HTTP decisions with in-memory ports: routes, problems, idempotency,
ownership, CORS, limits. The real care service and ledger rules run (over the fakes)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from refrain.account.auth import Authenticator, ServiceCallers, Unauthenticated
from refrain.account.ratelimit import TokenBucket
from refrain.account.routes import AccountApi, Request, Response
from refrain.account.service import AccountService
from refrain.care.actions import CareService
from refrain.domain.clock import FixedClock
from refrain.domain.subscription import evolve
from refrain.observability import get_logger
from refrain.outbox import OutboxPublisher
from tests.fakes.accounts import MemoryAccounts, MemoryKeys
from tests.fakes.ledger import MemoryLedger
from tests.fakes.outbox import RecordingRelay
from tests.unit.care.test_care_service import NOW, active

ORIGIN = "https://app.example"
PROBLEM = "application/problem+json"


def users(token: str) -> Mapping[str, Any]:
    """Pure logic only: the token is the uid ("bad" is refused)."""
    if token == "bad":
        raise Unauthenticated("bad")
    return {"sub": token}


@dataclass
class Rig:
    api: AccountApi
    ledger: MemoryLedger
    accounts: MemoryAccounts
    ticks: list[float]

    def call(self, method: str, path: str, body: Any = None, token: str | None = "acct_1",
             raw: bytes | None = b"", **headers: str) -> Response:  # fmt: skip
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            raw = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        return self.api.handle(Request.make(method, path, sent.items(), raw, "10.0.0.1"))


def rig(burst: int = 100) -> Rig:
    ledger = MemoryLedger()
    ledger.put(active())  # sub_1 of acct_1, active in January 2025
    clock, log = FixedClock(NOW), get_logger("t")
    accounts = MemoryAccounts(ledger)
    care = CareService(ledger, accounts, OutboxPublisher(RecordingRelay(), ledger, clock, log),
                       clock, log=log)  # fmt: skip
    ticks = [0.0]
    api = AccountApi(
        AccountService(accounts, care, MemoryKeys(), clock, max_age_s=30),
        Authenticator(users, ServiceCallers(None, frozenset(), "http://certs.test")),
        frozenset({ORIGIN}),
        per_ip=TokenBucket(1.0, burst, clock=lambda: ticks[0]),
        per_account=TokenBucket(1.0, burst, clock=lambda: ticks[0]),
        log=log,
    )
    return Rig(api, ledger, accounts, ticks)


def problem(response: Response, status: int, slug: str) -> dict[str, Any]:
    assert (response.status, response.content_type) == (status, PROBLEM), response.body
    body = dict(json.loads(response.body))
    assert body["type"] == f"https://refrain.dev/problems/{slug}"
    assert set(body) <= {"type", "title", "status", "detail", "instance", "errors"}
    return body


def test_the_entitlement_is_one_read_with_a_private_bounded_cache() -> None:
    r = rig()
    answer = r.call("GET", "/v1/me/entitlement")
    assert r.accounts.reads == 1 and answer.status == 200
    body = json.loads(answer.body)
    assert (body["has_access"], body["reason"], body["plan"]) == (
        True,
        "active",
        "individual_monthly",
    )
    assert answer.headers["Cache-Control"] == "private, max-age=30"
    # Ending in 10 s: never cached past the moment the answer changes.
    r.ledger.put(evolve(active(), {"cancel_at_period_end": True,
                                   "current_period_end": NOW + timedelta(seconds=10)}))  # fmt: skip
    assert r.call("GET", "/v1/me/entitlement").headers["Cache-Control"] == "private, max-age=10"


def test_unknown_paths_methods_and_media_types_are_problems() -> None:
    r = rig()
    problem(r.call("GET", "/v1/me/nothing"), 404, "not-found")
    problem(r.call("DELETE", "/v1/me/entitlement"), 405, "method-not-allowed")
    refused = r.call("POST", "/v1/me/subscriptions/sub_1/cancel", raw=b"reason=x",
                     Content_Type="text/plain", Idempotency_Key="key-00001")  # fmt: skip
    problem(refused, 415, "unsupported-media-type")
    invalid = problem(r.call("POST", "/v1/me/subscriptions/sub_1/change-plan", {"plan": 7, "x": 1},
                             Idempotency_Key="key-00002"), 400, "invalid-request")  # fmt: skip
    assert {e["field"] for e in invalid["errors"]} == {"plan", "x"}
    problem(r.call("POST", "/v1/me/subscriptions/sub_1/cancel", raw=None), 413, "body-too-large")


def test_no_token_or_a_bad_one_is_401_with_a_bearer_challenge() -> None:
    r = rig()
    for token in (None, "bad"):
        answer = r.call("GET", "/v1/me/subscriptions", token=token)
        problem(answer, 401, "unauthenticated")
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_someone_elses_subscription_is_404_before_the_key_is_asked_for() -> None:
    r = rig()
    path = "/v1/me/subscriptions/sub_1/cancel"
    for answer in (
        r.call("POST", path, {}, token="acct_2"),
        r.call("POST", path, {}, token="acct_2", Idempotency_Key="key-00003"),
    ):
        assert "sub_1" not in problem(answer, 404, "not-found").get("detail", "")
    assert not r.ledger.subs["sub_1"].cancel_at_period_end


def test_an_idempotency_key_replays_the_answer_and_refuses_another_body() -> None:
    r = rig()
    path = "/v1/me/subscriptions/sub_1/cancel"
    problem(r.call("POST", path, {}), 428, "idempotency-key-required")
    problem(r.call("POST", path, {}, Idempotency_Key="short"), 400, "invalid-request")
    first = r.call("POST", path, {"reason": "a"}, Idempotency_Key="key-00004")
    again = r.call("POST", path, {"reason": "a"}, Idempotency_Key="key-00004")
    assert first.status == again.status == 200 and first.body == again.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len([k for k in r.ledger.outbox if k.startswith("care:")]) == 1
    problem(r.call("POST", path, {"reason": "b"}, Idempotency_Key="key-00004"), 422,
            "idempotency-key-reused")  # fmt: skip
    # A refusal is an answer too: the same key gives it again, without a second try.
    revert = "/v1/me/subscriptions/sub_1/revert-cancel"
    assert r.call("POST", revert, None, Idempotency_Key="key-00005").status == 200
    refused = r.call("POST", revert, None, Idempotency_Key="key-00006")
    problem(refused, 409, "action-not-allowed")
    assert r.call("POST", revert, None, Idempotency_Key="key-00006").body == refused.body


def test_a_preview_changes_nothing_and_needs_no_key() -> None:
    r = rig()
    before = dict(r.ledger.outbox)
    shown = r.call("POST", "/v1/me/subscriptions/sub_1/change-plan",
                   {"plan": "student_monthly", "preview": True})  # fmt: skip
    assert shown.status == 200 and json.loads(shown.body)["direction"] == "downgrade"
    assert r.ledger.outbox == before and r.ledger.subs["sub_1"].pending_plan is None
    unknown = r.call("POST", "/v1/me/subscriptions/sub_1/change-plan",
                     {"plan": "gold", "preview": True})  # fmt: skip
    problem(unknown, 422, "unprocessable")


def test_cors_only_for_the_configured_origins() -> None:
    r = rig()
    preflight = r.call("OPTIONS", "/v1/me/entitlement", token=None, Origin=ORIGIN,
                       Access_Control_Request_Method="GET")  # fmt: skip
    assert preflight.status == 204 and preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = r.call("GET", "/v1/me/entitlement", Origin=ORIGIN)
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    for method in ("OPTIONS", "GET"):
        refused = r.call(method, "/v1/me/entitlement", Origin="https://evil.example")
        problem(refused, 403, "origin-not-allowed")
        assert "Access-Control-Allow-Origin" not in refused.headers


def test_rate_limits_answer_429_with_retry_after_and_refill() -> None:
    r = rig(burst=2)
    statuses = [r.call("GET", "/v1/me/subscriptions").status for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = r.call("GET", "/v1/me/subscriptions")
    problem(limited, 429, "rate-limited")
    assert limited.headers["Retry-After"] == "1"
    r.ticks[0] += 1.0
    assert r.call("GET", "/v1/me/subscriptions").status == 200


def test_the_client_address_is_the_one_googles_front_end_appended() -> None:
    r = rig()
    request = Request.make(
        "GET", "/", [("X-Forwarded-For", "6.6.6.6, 203.0.113.9")], b"", "10.1.1.1"
    )
    assert r.api._client_ip(request) == "203.0.113.9"
    assert r.api._client_ip(Request.make("GET", "/", [], b"", "10.1.1.1")) == "10.1.1.1"


def test_an_unexpected_failure_is_a_bare_500() -> None:
    r = rig()

    def broken(account_id: str) -> list[Any]:
        raise RuntimeError("secret internal detail /databases/(default)")

    r.accounts.entitlement_entries = broken  # type: ignore[method-assign]
    answer = r.call("GET", "/v1/me/entitlement")
    problem(answer, 500, "internal")
    assert "secret" not in answer.body and "databases" not in answer.body


@pytest.mark.parametrize("action", ["cancel", "pause"])
def test_actions_answer_the_subscription_as_the_subscriber_sees_it(action: str) -> None:
    r = rig()
    answer = r.call("POST", f"/v1/me/subscriptions/sub_1/{action}", {}, Idempotency_Key="key-00007")
    body = json.loads(answer.body)
    assert answer.status == 200 and body["status"] == "applied"
    assert "payment_method_ref" not in answer.body and body["subscription"]["id"] == "sub_1"
