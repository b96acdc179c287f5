"""refrain.domain.entitlement: what one subscription grants, and the account's answer in time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from refrain.domain.clock import utc
from refrain.domain.entitlement import Reason, SubscriptionAccess, access_of, resolve
from refrain.domain.money import Money
from refrain.domain.subscription import State, Subscription, evolve
from refrain_tools.renewals.population import active_subscription

START = utc(2025, 3, 1)
END = utc(2025, 4, 1)


def sub(sub_id: str = "sub_1", **changes: object) -> Subscription:
    return evolve(active_subscription(sub_id, payment_method_ref="pm", period_start=START), changes)


@pytest.mark.parametrize(
    ("changes", "reason", "access", "until", "ends"),
    [
        ({}, Reason.ACTIVE, True, END, False),
        ({"cancel_at_period_end": True}, Reason.CANCELLED_AT_PERIOD_END, True, END, True),
        ({"state": State.PAST_DUE, "grace_until": utc(2025, 4, 8)}, Reason.GRACE, True,
         utc(2025, 4, 8), True),
        ({"state": State.ON_HOLD, "hold_until": utc(2025, 5, 1)}, Reason.ON_HOLD, False,
         utc(2025, 5, 1), False),
        ({"state": State.PAUSED, "resume_at": utc(2025, 6, 1)}, Reason.PAUSED, False,
         utc(2025, 6, 1), False),
        ({"state": State.EXPIRED, "ended_at": END}, Reason.EXPIRED, False, END, False),
    ],
)  # fmt: skip
def test_each_state_says_why_and_until_when(
    changes: dict[str, object], reason: Reason, access: bool, until: object, ends: bool
) -> None:
    entry = access_of(evolve(sub(), changes))
    assert (entry.reason, entry.has_access, entry.until, entry.ends_at_until) == (
        reason, access, until, ends,
    )  # fmt: skip
    assert SubscriptionAccess.from_dict(entry.to_dict()) == entry


def test_a_cancellation_ends_access_at_period_end_even_before_the_tick() -> None:
    entry = access_of(sub(cancel_at_period_end=True))
    before = resolve([entry], END - timedelta(seconds=1))
    assert before.has_access and before.changes_at == END
    after = resolve([entry], END)
    assert (after.has_access, after.reason) == (False, Reason.EXPIRED)


def test_a_renewing_subscription_keeps_access_past_its_period_end() -> None:
    found = resolve([access_of(sub())], END + timedelta(hours=2))
    assert found.has_access and found.reason is Reason.ACTIVE and found.changes_at is None


def test_grace_that_ran_out_is_on_hold() -> None:
    entry = access_of(sub(state=State.PAST_DUE, grace_until=utc(2025, 4, 8)))
    assert resolve([entry], utc(2025, 4, 9)).reason is Reason.ON_HOLD


def test_the_best_subscription_wins_and_no_subscription_is_none() -> None:
    student = evolve(sub("sub_a"), {"plan": "student_monthly", "plan_rank": 10})
    family = evolve(sub("sub_b"), {"plan": "family_monthly", "plan_rank": 40,
                                   "price": Money(21900, "SEK")})  # fmt: skip
    paused = sub("sub_c", state=State.PAUSED)
    found = resolve([access_of(s) for s in (student, family, paused)], START)
    assert (found.plan, found.subscription_id) == ("family_monthly", "sub_b")
    assert resolve([access_of(paused)], START).reason is Reason.PAUSED
    assert resolve([], START) == resolve((), START)
    assert resolve([], START).reason is Reason.NONE and not resolve([], START).has_access
