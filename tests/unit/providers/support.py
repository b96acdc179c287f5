"""Test helpers for the app stores: the recorded fixtures, and a day as a timedelta.

The builders themselves (a throwaway Apple PKI and signed notifications, a
Google push token signer, RTDN envelopes and SubscriptionPurchaseV2 bodies)
live in the simulator, which the demo uses too:
:mod:`refrain_tools.simulator.apple` and :mod:`refrain_tools.simulator.google_play`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.support import FIXTURES

APPLE_FIXTURES = FIXTURES / "apple"
PLAY_FIXTURES = FIXTURES / "google_play"


def play_fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PLAY_FIXTURES / name).read_text())
    return loaded


def days(n: float) -> timedelta:
    return timedelta(days=n)
