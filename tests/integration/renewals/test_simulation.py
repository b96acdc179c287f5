"""Three simulated months on the Firestore emulator: counts as the dunning policy predicts.

N is 100 here to keep the suite fast (the emulator serialises transactions; 1,000
subscriptions over three months run in bench/renewals.py --simulate 1000 and in the
in-memory unit simulation). Ticks are duplicated and every charge message is
delivered twice, concurrently; each paid period must be charged exactly once.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta

from refrain.adapters.firestore_collections import CHARGES, OUTBOX, SUBSCRIPTIONS
from refrain.adapters.firestore_outbox import events_of
from refrain.adapters.firestore_renewals import seed_subscriptions
from refrain.domain import DEFAULT_POLICY
from refrain.settings import CloudSettings
from refrain_tools.renewals.population import mixed_population
from tests.integration.renewals.conftest import START, make_rig
from tests.unit.renewals.expectation import expected_counts

N = int(os.environ.get("REFRAIN_RENEWAL_SIM_N", "100"))
DAYS = 92


def test_three_months_on_the_emulator(cloud: CloudSettings) -> None:
    rig = make_rig(cloud, duplicate=True, concurrency=8)
    subs = mixed_population(N, START)
    seed_subscriptions(rig.db, subs)
    ticks = [START + timedelta(days=d) for d in range(DAYS + 1)]
    for at in ticks:
        rig.clock.set(at)
        assert rig.inline.run().gave_up == 0
    expected = expected_counts(subs, ticks, DEFAULT_POLICY)

    seen: Counter[str] = Counter()
    for snap in rig.db.collection(OUTBOX).stream():
        seen.update(e.type.value for e in events_of(snap.to_dict() or {}))
    charges = [s.to_dict() or {} for s in rig.db.collection(CHARGES).stream()]
    actual = {
        "renewals": seen["subscription.renewed"],
        "recoveries": seen["subscription.recovered"],
        "holds": seen["subscription.on_hold"],
        "expirations": seen["subscription.expired"],
        "declines": seen["payment.failed"],
        "attempts": len(charges),
        "retries": sum(1 for c in charges if c["attempt"] > 1),
    }
    print("emulator simulation", N, "subscriptions:", actual)
    assert actual == {k: expected[k] for k in actual}
    assert Counter(c["status"] for c in charges) == {
        "succeeded": expected["renewals"],
        "declined": expected["declines"],
    }
    assert set(rig.sandbox.successes.values()) == {1}
    assert rig.sandbox.charges == expected["renewals"]
    states = Counter(
        (s.to_dict() or {})["state"] for s in rig.db.collection(SUBSCRIPTIONS).stream()
    )
    assert dict(states) == {
        k.removeprefix("final_"): v for k, v in expected.items() if k.startswith("final_")
    }
