"""Three simulated months of 1,000 subscriptions over the in-memory ledger.

The counts must equal what the dunning policy predicts (tests/unit/renewals/
expectation.py, computed without the state machine), with duplicated ticks and
duplicated, concurrent charge messages, and no period may be charged twice.
The same simulation runs against the Firestore emulator in tests/integration.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from refrain.domain import DEFAULT_POLICY, ManualClock
from refrain.domain.clock import utc
from refrain_tools.renewals.population import mixed_population
from tests.unit.renewals.expectation import expected_counts
from tests.unit.renewals.harness import harness

START = utc(2025, 1, 1)
DAYS = 92


def test_three_months_match_the_dunning_policy_and_charge_each_period_once() -> None:
    subs = mixed_population(1000, START)
    clock = ManualClock(START)
    h = harness(subs, clock, duplicate=True, concurrency=4)
    ticks = [START + timedelta(days=d) for d in range(DAYS + 1)]
    seen: Counter[str] = Counter()
    for at in ticks:
        clock.set(at)
        report = h.inline.run()
        seen.update(report.events)
        assert report.gave_up == 0
    expected = expected_counts(subs, ticks, DEFAULT_POLICY)
    attempts = [k for k in h.gateway.calls]
    actual = {
        "renewals": seen["subscription.renewed"],
        "recoveries": seen["subscription.recovered"],
        "holds": seen["subscription.on_hold"],
        "expirations": seen["subscription.expired"],
        "declines": seen["payment.failed"],
        "past_due": seen["subscription.past_due"],
        "attempts": len(attempts),
        "retries": sum(1 for k in attempts if int(k.rsplit(":", 1)[1]) > 1),
    }
    assert actual == {k: expected[k] for k in actual}
    assert expected["renewals"] > 2000 and expected["expirations"] > 100  # a real workout
    # every paid period was charged exactly once, whatever the duplicates and timeouts
    assert set(h.gateway.successes.values()) == {1}
    assert h.gateway.charges == expected["renewals"] == seen["invoice.paid"]
    assert max(h.gateway.calls.values()) >= 2  # duplicates and timeouts did reach the gateway
    states = Counter(s.state.value for s in h.ledger.subs.values())
    assert {k: v for k, v in states.items()} == {
        k.removeprefix("final_"): v for k, v in expected.items() if k.startswith("final_")
    }
