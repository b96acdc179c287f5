"""The machine's fast constructors build exactly what the ordinary constructors build."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from refrain.domain import ChargeRequest, EventType, Money, Outcome, OutcomeKind, State
from refrain.domain.events import DomainEvent, build_event, validate_event
from refrain.domain.outcome import new_charge_request, new_outcome
from refrain.domain.subscription import evolve_unchecked

from .builders import T0, active_sub

pytestmark = pytest.mark.unit


def _charge() -> ChargeRequest:
    return new_charge_request(
        subscription_id="sub_1",
        idempotency_key="sub_1:20250215T090000Z:1",
        amount=Money(13900, "SEK"),
        billing_anchor=T0,
        attempt=1,
        purpose="renewal",
        payment_method_ref=None,
    )


def test_new_charge_request_equals_the_dataclass() -> None:
    fast = _charge()
    slow = ChargeRequest(**{f.name: getattr(fast, f.name) for f in dataclasses.fields(fast)})
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.attempt = 2  # type: ignore[misc]


def test_new_outcome_equals_the_dataclass() -> None:
    sub = active_sub()
    fast = new_outcome(OutcomeKind.APPLIED, sub, (), "why", _charge())
    slow = Outcome(OutcomeKind.APPLIED, sub, (), reason="why", charge=_charge())
    assert fast == slow and repr(fast) == repr(slow)
    assert new_outcome(OutcomeKind.STALE, sub) == Outcome(OutcomeKind.STALE, sub)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.reason = None  # type: ignore[misc]


def test_build_event_equals_a_validated_envelope() -> None:
    sub = active_sub()
    payload = {
        "account_id": sub.account_id,
        "provider": sub.provider,
        "billing_mode": sub.billing_mode,
        "plan": sub.plan,
        "market": sub.market,
        "state": sub.state,
        "renewal_count": 0,
        "failed_attempts": 0,
        "from_state": "past_due",
    }
    fast = build_event(
        subscription_id=sub.subscription_id,
        sequence=7,
        type=EventType.RECOVERED,
        occurred_at=T0,
        recorded_at=T0 + timedelta(seconds=1),
        payload=payload,
    )
    slow = DomainEvent.model_validate(fast.model_dump())
    assert fast == slow and fast.model_fields_set == slow.model_fields_set
    assert fast.event_id == f"{sub.subscription_id}#7"
    assert validate_event(fast) is fast


def test_evolve_unchecked_equals_dataclasses_replace() -> None:
    sub = active_sub()
    changes = {"state": State.PAUSED, "paused_at": T0, "version": sub.version + 1}
    assert evolve_unchecked(sub, changes) == dataclasses.replace(sub, **changes)  # type: ignore[arg-type]
    assert sub.state is State.ACTIVE  # the original is untouched
