"""POST /v1/me/erasure's HTTP decisions: the key protocol, the caller's own account only,
"cancel first" as a 409 that is not recorded, and every bad request a problem."""

from __future__ import annotations

import json

from refrain.domain.clock import FixedClock
from refrain.domain.subscription import State, evolve
from refrain.privacy.erasure import ErasureService, account_hash
from tests.fakes.erasure import MemoryErasureStore
from tests.unit.account.test_routes import Rig, problem, rig
from tests.unit.care.test_care_service import NOW
from tests.unit.privacy.test_erasure import populated

PATH = "/v1/me/erasure"


def erasing() -> tuple[Rig, MemoryErasureStore]:
    r = rig()
    store = populated()
    r.api.service.erasure = ErasureService(store, FixedClock(NOW))
    return r, store


def test_it_erases_the_callers_account_once_per_key() -> None:
    r, store = erasing()
    first = r.call("POST", PATH, None, Idempotency_Key="erase-0001")
    assert first.status == 200 and first.content_type == "application/json"
    body = json.loads(first.body)
    assert body["status"] == "erased" and body["receipt"] == account_hash("acct_1")
    assert body["counts"]["customer_profiles"] == 1 and "invoices" in body["kept"].lower()
    assert first.headers["Cache-Control"] == "no-store"
    again = r.call("POST", PATH, {}, Idempotency_Key="erase-0001")
    assert again.body == first.body and again.headers["Idempotent-Replayed"] == "true"
    fresh = json.loads(r.call("POST", PATH, None, Idempotency_Key="erase-0002").body)
    assert fresh["status"] == "nothing_to_erase" and set(fresh["counts"].values()) == {0}
    assert "acct_2" in store.customers


def test_another_users_token_erases_only_their_own_account() -> None:
    r, store = erasing()
    answer = json.loads(
        r.call("POST", PATH, None, token="acct_2", Idempotency_Key="erase-0003").body
    )
    assert answer["receipt"] == account_hash("acct_2")
    assert "acct_1" in store.customers and "acct_2" not in store.customers


def test_a_subscription_that_still_renews_is_a_409_not_recorded() -> None:
    r, store = erasing()
    store.subs["sub_1"] = evolve(store.subs["sub_1"], {"state": State.ACTIVE})
    refused = problem(r.call("POST", PATH, None, Idempotency_Key="erase-0004"), 409,
                      "erasure-blocked")  # fmt: skip
    assert "sub_1" in refused["detail"] and "ana" not in refused["detail"].lower()
    assert "acct_1" in store.customers
    store.subs["sub_1"] = evolve(store.subs["sub_1"], {"cancel_at_period_end": True})
    done = r.call("POST", PATH, None, Idempotency_Key="erase-0004")  # the same key, now applied
    assert done.status == 200 and "Idempotent-Replayed" not in done.headers


def test_bad_requests_are_problems_and_erase_nothing() -> None:
    r, store = erasing()
    problem(r.call("POST", PATH, None), 428, "idempotency-key-required")
    problem(r.call("POST", PATH, None, Idempotency_Key="short"), 400, "invalid-request")
    problem(r.call("POST", PATH, None, Idempotency_Key="has space 1"), 400, "invalid-request")
    problem(r.call("POST", PATH, {"confirm": True}, Idempotency_Key="erase-0005"), 400,
            "invalid-request")  # fmt: skip
    problem(r.call("POST", PATH, raw=b"{", Content_Type="application/json",
                   Idempotency_Key="erase-0006"), 400, "invalid-request")  # fmt: skip
    problem(r.call("POST", PATH, raw=b"x=1", Content_Type="text/plain",
                   Idempotency_Key="erase-0007"), 415, "unsupported-media-type")  # fmt: skip
    problem(r.call("POST", PATH, raw=None, Idempotency_Key="erase-0008"), 413, "body-too-large")
    problem(r.call("GET", PATH), 405, "method-not-allowed")
    problem(r.call("POST", PATH, None, token=None, Idempotency_Key="erase-0009"), 401,
            "unauthenticated")  # fmt: skip
    problem(r.call("POST", PATH, None, token="bad", Idempotency_Key="erase-0010"), 401,
            "unauthenticated")  # fmt: skip
    assert "acct_1" in store.customers and store.records == {}
    # A key first used for another action is not reused for an erasure.
    cancel = "/v1/me/subscriptions/sub_1/cancel"
    assert r.call("POST", cancel, {}, Idempotency_Key="erase-0011").status == 200
    problem(r.call("POST", PATH, None, Idempotency_Key="erase-0011"), 422, "idempotency-key-reused")
    assert "acct_1" in store.customers


def test_an_alias_shaped_uid_is_unprocessable() -> None:
    r, store = erasing()
    answer = r.call("POST", PATH, None, token="erased-0123", Idempotency_Key="erase-0012")
    problem(answer, 422, "unprocessable")
    assert store.records == {}


def test_without_an_erasure_service_the_route_is_not_found() -> None:
    r = rig()
    problem(r.call("POST", PATH, None, Idempotency_Key="erase-0013"), 404, "not-found")
