"""Valid domain events of every type, for the churn tests and the benchmark.

``sample_event`` builds a realistic event per type; ``events()`` is a
hypothesis strategy over every payload model's fields, so "any valid event"
really is any (payloads validated by the domain's own models).
"""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Union, get_args, get_origin

from hypothesis import strategies as st

from refrain.domain.events import (
    PAYLOAD_MODELS,
    SCHEMA_VERSION,
    DomainEvent,
    EventType,
    event_id_for,
    validate_event,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

BASE: dict[str, Any] = {
    "account_id": "acct_7f3a9c",
    "provider": "stripe",
    "billing_mode": "merchant_managed",
    "plan": "individual_monthly",
    "market": "SE",
    "state": "active",
    "renewal_count": 3,
    "failed_attempts": 0,
}

EXTRA: dict[EventType, dict[str, Any]] = {
    EventType.ACTIVATED: {
        "period_start": T0.isoformat(), "period_end": (T0 + timedelta(days=31)).isoformat(),
        "amount": 13900, "currency": "SEK", "from_trial": False, "renewal_count": 0,
    },
    EventType.TRIAL_STARTED: {"trial_end": (T0 + timedelta(days=30)).isoformat(),
                              "state": "trialing"},
    EventType.RENEWED: {
        "period_start": T0.isoformat(), "period_end": (T0 + timedelta(days=31)).isoformat(),
    },
    EventType.INVOICE_PAID: {
        "charge_id": "ch_1", "amount": 13900, "currency": "SEK", "period_start": T0.isoformat(),
        "period_end": (T0 + timedelta(days=31)).isoformat(),
        "billing_reason": "subscription_cycle", "attempt": 1,
    },
    EventType.PAYMENT_FAILED: {
        "charge_id": "ch_2", "amount": 13900, "currency": "SEK", "attempt": 1,
        "decline_category": "insufficient_funds", "decline_code": "insufficient_funds",
        "hard_decline": False, "next_retry_at": (T0 + timedelta(days=3)).isoformat(),
        "failed_attempts": 1, "state": "past_due",
    },
    EventType.PAST_DUE: {"grace_until": (T0 + timedelta(days=7)).isoformat(),
                         "next_retry_at": None, "state": "past_due", "failed_attempts": 1},
    EventType.ON_HOLD: {"hold_until": (T0 + timedelta(days=30)).isoformat(),
                        "next_retry_at": None, "state": "on_hold", "failed_attempts": 2},
    EventType.RECOVERED: {"from_state": "past_due"},
    EventType.CANCEL_REQUESTED: {"reason": "too_expensive",
                                 "effective_at": (T0 + timedelta(days=20)).isoformat()},
    EventType.CANCEL_REVERTED: {},
    EventType.PLAN_CHANGED: {
        "from_plan": "individual_monthly", "to_plan": "family_monthly", "direction": "upgrade",
        "effective_at": T0.isoformat(), "scheduled": False, "proration_amount": 5000,
        "currency": "SEK", "plan": "family_monthly",
    },
    EventType.PLAN_CHANGE_DECLINED: {
        "from_plan": "individual_monthly", "to_plan": "family_monthly", "charge_id": "s:upgrade:3",
        "amount": 5000, "currency": "SEK", "decline_category": "insufficient_funds",
        "decline_code": "insufficient_funds", "hard_decline": False,
    },
    EventType.PAUSED: {"resume_at": None, "state": "paused"},
    EventType.RESUMED: {"period_end": (T0 + timedelta(days=40)).isoformat()},
    EventType.CHARGE_REFUNDED: {"charge_id": "ch_1", "amount": 13900, "currency": "SEK",
                                "reason": "requested_by_customer", "access_revoked": False},
    EventType.CHARGE_DISPUTED: {"charge_id": "ch_1", "amount": 13900, "currency": "SEK",
                                "reason_code": "fraudulent", "access_revoked": True},
    EventType.CHARGE_DISPUTE_CLOSED: {"charge_id": "ch_1", "amount": 13900, "currency": "SEK",
                                      "won": True, "access_restored": True,
                                      "payment_method_blocked": False},
    EventType.EXPIRED: {
        "churn_type": "voluntary", "started_at": (T0 - timedelta(days=400)).isoformat(),
        "ended_at": T0.isoformat(), "tenure_days": 400, "cancel_reason": "not_using",
        "state": "expired",
    },
    EventType.PAYMENT_METHOD_UPDATED: {"payment_method_ref": "pm_9", "retry_at": None},
    EventType.PRICE_CHANGE_SCHEDULED: {
        "change_id": "individual_monthly:SE:v2", "old_amount": 13900, "amount": 14900,
        "currency": "SEK", "effective_at": (T0 + timedelta(days=30)).isoformat(),
        "applies_from": (T0 + timedelta(days=31)).isoformat(), "notice_days": 30,
        "consent_required": False, "consented": False,
    },
    EventType.PRICE_CONSENT_RECORDED: {
        "change_id": "individual_monthly:SE:v2", "amount": 14900, "currency": "SEK",
        "applies_from": (T0 + timedelta(days=31)).isoformat(),
    },
}  # fmt: skip


def sample_event(
    type_: EventType,
    *,
    subscription_id: str = "sub_1",
    sequence: int = 1,
    occurred_at: datetime = T0,
    **payload: Any,
) -> DomainEvent:
    """A fully validated event of ``type_``; keyword arguments override payload fields."""
    body = {**BASE, **EXTRA[type_], **payload}
    return validate_event(
        DomainEvent(
            event_id=event_id_for(subscription_id, sequence),
            type=type_,
            schema_version=SCHEMA_VERSION,
            occurred_at=occurred_at,
            recorded_at=occurred_at + timedelta(seconds=2),
            subscription_id=subscription_id,
            sequence=sequence,
            payload=body,
        )
    )


# hypothesis ------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
_TIMES = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
_OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    "market": st.sampled_from(["SE", "DE", "US", "GB", "ZZ", "se"]),
    "plan": st.sampled_from(["individual_monthly", "family_yearly", "retired_plan"]),
    "currency": st.sampled_from(["SEK", "EUR", "USD"]),
    "provider": st.sampled_from(["stripe", "adyen", "google_play", "apple"]),
    "state": st.sampled_from(["active", "past_due", "on_hold", "expired", "paused"]),
    "from_state": st.sampled_from(["past_due", "on_hold"]),
    "account_id": _TEXT.map(lambda t: f"acct_{t}"),  # marked: a leak is findable
}


def _strategy(name: str, annotation: Any) -> st.SearchStrategy[Any]:
    if name in _OVERRIDES:
        return _OVERRIDES[name]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return st.none() | _strategy(name, inner[0])
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(min_value=0, max_value=10**9)
    if annotation is str:
        return _TEXT
    return _TIMES.map(lambda d: d.isoformat())  # AwareDatetime


@st.composite
def events(draw: st.DrawFn) -> DomainEvent:
    type_ = draw(st.sampled_from(list(EventType)))
    model = PAYLOAD_MODELS[type_]
    payload = {n: draw(_strategy(n, f.annotation)) for n, f in model.model_fields.items()}
    occurred = draw(_TIMES)
    sequence = draw(st.integers(min_value=1, max_value=10**6))
    subscription_id = draw(_TEXT.filter(bool))
    return validate_event(
        DomainEvent(
            event_id=event_id_for(subscription_id, sequence),
            type=type_,
            schema_version=SCHEMA_VERSION,
            occurred_at=occurred,
            recorded_at=occurred,
            subscription_id=subscription_id,
            sequence=sequence,
            payload=payload,
        )
    )
