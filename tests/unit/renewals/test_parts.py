"""Messages, the sandbox gateway, the tick, and the provider answer mappings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.adapters.gateway_adyen import _from_response
from refrain.adapters.gateway_stripe import _from_intent, split_ref
from refrain.domain import ManualClock, Money
from refrain.domain.clock import utc
from refrain.domain.declines import DeclineCategory
from refrain.domain.retry import network_forbids
from refrain.renewals import sandbox
from refrain.renewals.gateway import ChargeStatus, GatewayCharge, GatewayUnavailable
from refrain.renewals.messages import BadMessage, ChargeMessage, TimerKind
from refrain_tools.renewals.population import active_subscription
from tests.unit.renewals.harness import harness

ANCHOR = utc(2025, 4, 1)


def charge(pm: str, attempt: int = 1, sid: str = "s1") -> GatewayCharge:
    key = f"{sid}:20250401T000000Z:{attempt}"
    return GatewayCharge(key, sid, "acct", Money(11900, "SEK"), pm, ANCHOR, attempt)


# messages ------------------------------------------------------------------------------------

ids = st.text(
    st.characters(whitelist_categories=("Ll", "Nd"), whitelist_characters="_-"), min_size=1
)


@given(sid=ids, kind=st.sampled_from(list(TimerKind)), stamp=ids)
def test_message_round_trips(sid: str, kind: TimerKind, stamp: str) -> None:
    message = ChargeMessage(sid, kind, f"{sid}:{kind.value}:{stamp}")
    assert ChargeMessage.decode(message.encode()) == message


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"subscription_id": "", "kind": "renewal_due", "input_id": ":renewal_due:x"}',
        b'{"subscription_id": "s", "kind": "refund_now", "input_id": "s:refund_now:x"}',
        b'{"subscription_id": "s", "kind": "renewal_due", "input_id": "other:renewal_due:x"}',
        b'{"subscription_id": "s", "kind": "renewal_due"}',
    ],
)
def test_malformed_messages_are_refused_clearly(raw: bytes) -> None:
    with pytest.raises(BadMessage):
        ChargeMessage.decode(raw)


def test_a_subscription_id_from_outside_is_carried_as_it_is() -> None:
    # Only storage encodes ids (invariant 11); "/" is no reason to refuse a message.
    message = ChargeMessage("a/b", TimerKind.RENEWAL_DUE, "a/b:renewal_due:x")
    assert ChargeMessage.decode(message.encode()) == message
    assert message.dedupe_key == "timer:a/b:renewal_due:x"


# sandbox -------------------------------------------------------------------------------------


def test_sandbox_methods_and_idempotency() -> None:
    gw = sandbox.SandboxGateway()
    assert gw.charge(charge(sandbox.OK)).status is ChargeStatus.SUCCEEDED
    replay = gw.charge(charge(sandbox.OK))
    assert replay.replayed and gw.charges == 1 and gw.calls["s1:20250401T000000Z:1"] == 2
    soft = gw.charge(charge(sandbox.INSUFFICIENT_FUNDS, sid="s2")).decline
    assert soft is not None and soft.soft and soft.category is DeclineCategory.INSUFFICIENT_FUNDS
    hard = gw.charge(charge(sandbox.STOLEN, sid="s3")).decline
    assert hard is not None and hard.hard and hard.category is DeclineCategory.FRAUD_OR_STOLEN
    assert gw.charge(charge("pm_unknown", sid="s4")).status is ChargeStatus.DECLINED
    assert gw.charge(charge(sandbox.PROCESSING, sid="s5")).status is ChargeStatus.PENDING


def test_sandbox_timeout_charges_once_and_replays() -> None:
    gw = sandbox.SandboxGateway()
    with pytest.raises(GatewayUnavailable):
        gw.charge(charge(sandbox.TIMEOUT))
    assert gw.charge(charge(sandbox.TIMEOUT)).replayed and gw.charges == 1


def test_sandbox_recover_after_two_declines_per_period() -> None:
    gw = sandbox.SandboxGateway()
    statuses = [gw.charge(charge(sandbox.RECOVER_AFTER_2, n)).status for n in (1, 2, 3)]
    assert statuses == [ChargeStatus.DECLINED, ChargeStatus.DECLINED, ChargeStatus.SUCCEEDED]


# tick ----------------------------------------------------------------------------------------


def test_tick_publishes_only_what_is_due_with_deterministic_ids() -> None:
    start = utc(2025, 3, 1)
    subs = [
        active_subscription(
            f"s{i}", payment_method_ref=sandbox.OK, period_start=start + timedelta(days=i)
        )
        for i in range(120)
    ]
    clock = ManualClock(utc(2025, 4, 10, 12))  # the first 10 renewal dates have passed
    h = harness(subs, clock)
    first = h.tick.run()
    again = h.tick.run()  # an overlapping tick: the same messages, deduplicated downstream
    messages = h.queue.take()
    assert first.due == again.due == 10 and len(messages) == 20
    assert len(set(messages)) == 10
    assert {m.kind for m in messages} == {TimerKind.RENEWAL_DUE}


def test_tick_pages_through_many_due_subscriptions() -> None:
    start = utc(2025, 3, 1)
    subs = [
        active_subscription(f"s{i}", payment_method_ref=sandbox.OK, period_start=start)
        for i in range(130)
    ]
    h = harness(subs, ManualClock(utc(2025, 4, 1)))
    report = h.tick.run()
    assert report.due == report.published == 130 and report.pages == 3  # page size 50


# provider answer mappings ---------------------------------------------------------------------


def test_stripe_refs_and_intent_statuses() -> None:
    assert split_ref("cus_1:pm_2") == ("cus_1", "pm_2")
    assert split_ref("cus_1") == ("cus_1", None) and split_ref("pm_2") == (None, "pm_2")
    assert _from_intent({"id": "pi", "status": "succeeded"}).status is ChargeStatus.SUCCEEDED
    assert _from_intent({"id": "pi", "status": "processing"}).status is ChargeStatus.PENDING
    action = _from_intent({"id": "pi", "status": "requires_action"}).decline
    assert action is not None and action.category is DeclineCategory.AUTHENTICATION_REQUIRED
    error = {"code": "card_declined", "decline_code": "do_not_honor", "network_advice_code": "21"}
    advised = _from_intent({"id": "pi", "status": "requires_payment_method",
                            "last_payment_error": error}).decline  # fmt: skip
    assert advised is not None and advised.advice_code == "21"
    assert network_forbids(advised)  # soft by its code, but the network says never


def test_adyen_result_codes() -> None:
    assert _from_response({"resultCode": "Authorised", "pspReference": "p"}).provider_ref == "p"
    refused = _from_response(
        {"resultCode": "Refused", "refusalReason": "Not enough balance", "refusalReasonCode": "12"}
    ).decline
    assert refused is not None and refused.soft
    assert _from_response({"resultCode": "Received"}).status is ChargeStatus.PENDING
    advised = _from_response({
        "resultCode": "Refused", "refusalReason": "Refused", "refusalReasonCode": "2",
        "additionalData": {"merchantAdviceCode": "03: Do not try again"},
    }).decline  # fmt: skip
    assert advised is not None and advised.soft and advised.advice_code == "03"
    with pytest.raises(GatewayUnavailable):
        _from_response({"resultCode": "Error"})
