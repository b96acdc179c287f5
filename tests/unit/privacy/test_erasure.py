"""Erasure's rules over an in-memory store: what goes, what is kept, who is refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from refrain.domain.clock import FixedClock
from refrain.domain.subscription import BillingMode, State, Subscription, evolve
from refrain.privacy.erasure import (
    ALIAS_PREFIX,
    COUNT_NAMES,
    ErasureBlocked,
    ErasureService,
    InvalidAccount,
    account_hash,
    check_account,
    new_alias,
    still_charged,
)
from tests.fakes.erasure import MemoryErasureStore
from tests.unit.care.test_care_service import NOW, active


def ended(sub_id: str = "sub_1", account: str = "acct_1") -> Subscription:
    return evolve(active(sub_id), {"state": State.EXPIRED, "account_id": account})


def populated() -> MemoryErasureStore:
    store = MemoryErasureStore()
    store.customers["acct_1"] = {"email": "ana@example.com", "name": "Ana"}
    store.customers["acct_2"] = {"email": "bo@example.com", "name": "Bo"}
    store.entitlements |= {"acct_1", "acct_2"}
    store.subs["sub_1"] = ended("sub_1")
    store.subs["sub_2"] = ended("sub_2", "acct_2")
    store.entries["sub_1"] = [("aud_1", "notice_1", "acct_1"), ("aud_2", "notice_2", "acct_1")]
    store.entries["sub_2"] = [("aud_9", "notice_9", "acct_2")]
    store.audits |= {"aud_1", "aud_2", "aud_9"}
    store.parked |= {"p1": "aud_2", "p9": "aud_9"}
    store.sends |= {"inv_1": "ses-1", "notice_1": "ses-2", "notice_9": "ses-9"}
    store.invoices |= {"inv_1": "acct_1", "inv_9": "acct_2"}
    return store


def service(store: MemoryErasureStore, at: timedelta = timedelta()) -> ErasureService:
    return ErasureService(store, FixedClock(NOW + at))


def test_everything_of_the_account_goes_and_the_invoices_stay_under_an_alias() -> None:
    store = populated()
    report = service(store).erase("acct_1")
    assert report.status == "erased" and report.erased_at == NOW
    assert report.counts == {
        "customer_profiles": 1, "entitlements": 1, "audit_bodies": 2, "parked_events": 1,
        "email_records": 2, "invoices_kept": 1, "subscriptions": 1, "ledger_entries": 2,
    }  # fmt: skip
    assert "acct_1" not in store.customers and "acct_1" not in store.entitlements
    assert store.audits == {"aud_9"} and store.parked == {"p9": "aud_9"}
    assert store.sends == {"inv_1": None, "notice_1": None, "notice_9": "ses-9"}
    alias = store.invoices["inv_1"]
    assert alias.startswith(ALIAS_PREFIX) and store.subs["sub_1"].account_id == alias
    assert {o for _, _, o in store.entries["sub_1"]} == {alias}
    # Bo's data is untouched.
    assert store.customers["acct_2"]["email"] == "bo@example.com"
    assert store.invoices["inv_9"] == "acct_2" and store.subs["sub_2"].account_id == "acct_2"
    # The rotation comes last, so a run that stops half way is finished by the next.
    assert store.calls == ["customer", "rename"]


def test_the_record_holds_a_hash_when_and_counts_but_no_personal_data() -> None:
    store = populated()
    service(store).erase("acct_1")
    [record] = store.records.values()
    assert record.account_hash == account_hash("acct_1") != account_hash("acct_2")
    assert "acct_1" not in record.account_hash and len(record.account_hash) == 64
    assert record.erased_at == record.last_run_at == NOW
    assert set(record.counts) == set(COUNT_NAMES)
    assert "ana" not in repr(record).lower()


def test_a_second_run_finds_nothing_and_says_when_it_was_erased() -> None:
    store = populated()
    first = service(store).erase("acct_1")
    again = service(store, timedelta(days=1)).erase("acct_1")
    assert again.status == "nothing_to_erase" and set(again.counts.values()) == {0}
    assert again.erased_at == first.erased_at == NOW
    record = store.records[account_hash("acct_1")]
    assert record.counts == first.counts  # the totals, not overwritten by the empty run
    assert record.last_run_at == NOW + timedelta(days=1)


def test_data_that_came_back_after_an_erasure_is_erased_and_added_to_the_totals() -> None:
    store = populated()
    service(store).erase("acct_1")
    store.customers["acct_1"] = {"email": "ana@example.com"}
    again = service(store, timedelta(days=2)).erase("acct_1")
    assert again.status == "erased" and again.counts["customer_profiles"] == 1
    assert again.erased_at == NOW
    assert store.records[account_hash("acct_1")].counts["customer_profiles"] == 2


def test_an_account_never_seen_has_nothing_to_erase() -> None:
    store = MemoryErasureStore()
    report = service(store).erase("acct_unknown")
    assert report.status == "nothing_to_erase" and report.erased_at == NOW


@pytest.mark.parametrize(
    "changes",
    [
        {"state": State.ACTIVE},
        {"state": State.PAST_DUE},
        {"state": State.ON_HOLD},
        {"state": State.PAUSED},
        {"state": State.TRIALING},
        {"state": State.ACTIVE, "billing_mode": BillingMode.PROVIDER_MANAGED},
    ],
    ids=["active", "past_due", "on_hold", "paused", "trialing", "provider_managed"],
)
def test_a_subscription_that_still_renews_blocks_and_nothing_changes(
    changes: dict[str, object],
) -> None:
    store = populated()
    store.subs["sub_1"] = evolve(store.subs["sub_1"], changes)
    with pytest.raises(ErasureBlocked) as refused:
        service(store).erase("acct_1")
    assert refused.value.subscription_ids == ("sub_1",)
    assert "acct_1" in store.customers and store.invoices["inv_1"] == "acct_1"
    assert store.records == {} and store.calls == []


def test_cancelled_at_period_end_or_expired_does_not_block() -> None:
    cancelling = evolve(active(), {"cancel_at_period_end": True})
    assert still_charged([cancelling, evolve(active("s2"), {"state": State.EXPIRED})]) == []
    assert still_charged([active("s3")]) == ["s3"]


@pytest.mark.parametrize(
    "account",
    ["", "x" * 129, "acct\n1", "acct\x001", " acct_1", "acct_1 ", "erased-0123abcd", "a\x7fb"],
    ids=["empty", "too-long", "newline", "nul", "leading-space", "trailing-space", "alias", "del"],
)
def test_bad_account_ids_are_refused_before_anything_is_read(account: str) -> None:
    store = populated()
    with pytest.raises(InvalidAccount):
        service(store).erase(account)
    assert store.calls == [] and store.records == {}


def test_a_good_account_id_passes_and_aliases_are_random() -> None:
    assert check_account("x" * 128) == "x" * 128
    aliases = {new_alias() for _ in range(100)}
    assert len(aliases) == 100
    assert all(a.startswith(ALIAS_PREFIX) and len(a) == len(ALIAS_PREFIX) + 32 for a in aliases)


def test_the_log_line_says_what_happened_without_personal_data() -> None:
    import io

    from refrain.observability import Logger

    stream = io.StringIO()
    store = populated()
    store.subs["sub_2"] = evolve(store.subs["sub_2"], {"state": State.ACTIVE})
    ErasureService(store, FixedClock(NOW), Logger(stream)).erase("acct_1")
    with pytest.raises(ErasureBlocked):
        ErasureService(store, FixedClock(NOW), Logger(stream)).erase("acct_2")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["erasure", "erasure refused"]
    assert (
        lines[0]["receipt"] == account_hash("acct_1") and lines[0]["counts"]["subscriptions"] == 1
    )
    text = stream.getvalue().lower()
    for secret in ("acct_1", "acct_2", "ana@example.com", "bo@example.com", "sub_2"):
        assert secret not in text
