"""Domain events and customers for invoicing tests (unit and integration)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from refrain.domain.clock import utc
from refrain.domain.events import DomainEvent, EventType, build_event, validate_event

T0 = utc(2025, 1, 15, 9)
PERIOD_END = utc(2025, 2, 15, 9)


def _base(account_id: str, plan: str, market: str) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "provider": "stripe",
        "billing_mode": "merchant_managed",
        "plan": plan,
        "market": market,
        "state": "active",
        "renewal_count": 0,
        "failed_attempts": 0,
    }


def event(
    type: EventType,
    payload: dict[str, Any],
    *,
    subscription_id: str = "sub_1",
    sequence: int = 3,
    at: datetime = T0,
) -> DomainEvent:
    return validate_event(
        build_event(
            subscription_id=subscription_id,
            sequence=sequence,
            type=type,
            occurred_at=at,
            recorded_at=at,
            payload=payload,
        )
    )


def invoice_paid(
    *,
    market: str = "SE",
    amount: int = 13900,
    currency: str = "SEK",
    plan: str = "individual_monthly",
    charge_id: str | None = "pi_1",
    account_id: str = "acct_1",
    subscription_id: str = "sub_1",
    sequence: int = 3,
    at: datetime = T0,
    tax: int | None = None,
) -> DomainEvent:
    payload = _base(account_id, plan, market) | {
        "charge_id": charge_id,
        "amount": amount,
        "tax": tax,
        "currency": currency,
        "period_start": T0.isoformat(),
        "period_end": PERIOD_END.isoformat(),
        "billing_reason": "subscription_create",
        "attempt": 1,
    }
    return event(
        EventType.INVOICE_PAID, payload, subscription_id=subscription_id, sequence=sequence, at=at
    )


def charge_refunded(
    *,
    amount: int,
    currency: str = "SEK",
    market: str = "SE",
    charge_id: str = "pi_1",
    account_id: str = "acct_1",
    subscription_id: str = "sub_1",
    sequence: int = 4,
) -> DomainEvent:
    payload = _base(account_id, "individual_monthly", market) | {
        "charge_id": charge_id,
        "amount": amount,
        "currency": currency,
        "reason": "requested_by_customer",
        "access_revoked": False,
    }
    return event(
        EventType.CHARGE_REFUNDED,
        payload,
        subscription_id=subscription_id,
        sequence=sequence,
        at=utc(2025, 1, 20, 12),
    )


def payment_failed(
    *, market: str = "SE", account_id: str = "acct_1", hard: bool = False, sequence: int = 5
) -> DomainEvent:
    payload = _base(account_id, "individual_monthly", market) | {
        "state": "past_due",
        "charge_id": "pi_2",
        "amount": 13900,
        "currency": "SEK",
        "attempt": 1,
        "decline_category": "insufficient_funds",
        "decline_code": "insufficient_funds",
        "hard_decline": hard,
        "next_retry_at": None if hard else utc(2025, 2, 18, 9).isoformat(),
    }
    return event(EventType.PAYMENT_FAILED, payload, sequence=sequence, at=PERIOD_END)


def on_hold(*, account_id: str = "acct_1", sequence: int = 6) -> DomainEvent:
    payload = _base(account_id, "individual_monthly", "SE") | {
        "state": "on_hold",
        "hold_until": utc(2025, 3, 15).isoformat(),
        "next_retry_at": None,
    }
    return event(EventType.ON_HOLD, payload, sequence=sequence, at=utc(2025, 2, 22))


def expired(*, account_id: str = "acct_1", sequence: int = 7) -> DomainEvent:
    payload = _base(account_id, "individual_monthly", "SE") | {
        "state": "expired",
        "churn_type": "involuntary",
        "started_at": T0.isoformat(),
        "ended_at": utc(2025, 3, 15).isoformat(),
        "tenure_days": 59,
        "cancel_reason": None,
    }
    return event(EventType.EXPIRED, payload, sequence=sequence, at=utc(2025, 3, 15))


def renewed(*, sequence: int = 8) -> DomainEvent:
    payload = _base("acct_1", "individual_monthly", "SE") | {
        "period_start": T0.isoformat(),
        "period_end": PERIOD_END.isoformat(),
    }
    return event(EventType.RENEWED, payload, sequence=sequence)


def upgrade_declined(*, amount: int = 3265, to_plan: str = "duo_monthly") -> DomainEvent:
    payload = _base("acct_1", "individual_monthly", "SE") | {
        "from_plan": "individual_monthly", "to_plan": to_plan, "charge_id": "sub_1:upgrade:4",
        "amount": amount, "currency": "SEK", "decline_category": "insufficient_funds",
        "decline_code": "insufficient_funds", "hard_decline": False,
    }  # fmt: skip
    return event(EventType.PLAN_CHANGE_DECLINED, payload)


def dispute_closed(
    *, amount: int, won: bool, charge_id: str = "pi_1", sequence: int = 5
) -> DomainEvent:
    payload = _base("acct_1", "individual_monthly", "SE") | {
        "charge_id": charge_id,
        "amount": amount,
        "currency": "SEK",
        "won": won,
        "access_restored": False,
        "payment_method_blocked": not won,
    }
    return event(
        EventType.CHARGE_DISPUTE_CLOSED, payload, sequence=sequence, at=utc(2025, 2, 20, 12)
    )
