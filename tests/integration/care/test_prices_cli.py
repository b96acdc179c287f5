"""`refrain prices ...` and the price care actions on the emulators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from refrain.adapters.firestore_collections import PRICE_CHANGES
from tests.integration.care.conftest import Ops

AT = "2025-01-02T00:00:00Z"  # the seeded subscription renews on 1 February


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["platinum", "SE", "149", "--effective", "2025-03-01"], "unknown plan 'platinum'"),
        (["individual_monthly", "XX", "149", "--effective", "2025-03-01"], "unknown market"),
        (["individual_monthly", "SE", "0", "--effective", "2025-03-01"], "must be positive"),
        (["individual_monthly", "SE", "149.001", "--effective", "2025-03-01"], "more than 2"),
        (["individual_monthly", "JP", "1180.5", "--effective", "2025-03-01"], "more than 0"),
        (["individual_monthly", "SE", "149", "--effective", "2025-01-20"], "too soon"),
    ],
)
def test_refusals_exit_1_say_why_and_write_nothing(ops: Ops, args: list[str], problem: str) -> None:
    ops.seed()
    before = ops.outbox_ids()
    result = ops.cli("prices", "schedule", *args, "--at", AT, "--json")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["written"] == 0 and any(problem in p for p in body["problems"]), body
    assert list(ops.db.collection(PRICE_CHANGES).list_documents()) == []
    assert ops.outbox_ids() == before


def test_schedule_notify_consent_and_grandfather_from_the_command_line(
    ops: Ops, tmp_path: Path
) -> None:
    ops.seed()
    ops.seed("sub_care_2")
    grand = ops.cli("subscriptions", "grandfather", "sub_care_2", "--at", AT, "--json")
    assert grand.exit_code == 0, grand.output
    changes = tmp_path / "changes.csv"
    changes.write_text("plan,market,amount,effective\nindividual_monthly,SE,149,2025-02-15\n")
    result = ops.cli("prices", "schedule", "--file", str(changes), "--at", AT, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    [change] = body["changes"]
    assert change["change_id"] == "individual_monthly:SE:v2"
    [report] = body["notices"]
    assert (report["notified"], report["refused"]) == (1, {"grandfathered": 1})
    stored = ops.subscription()["price_change"]
    assert stored["price"] == {"amount": 14900, "currency": "SEK"}
    assert stored["applies_from"].startswith("2025-03-01")  # 1 February is too soon
    assert ops.subscription("sub_care_2")["price_grandfathered"] is True
    shown = ops.cli("subscriptions", "show", "sub_care_2", "--json")
    assert json.loads(shown.stdout)["subscription"]["price_grandfathered"] is True
    consent = ops.cli("subscriptions", "consent-price", "sub_care_1", "--at", AT, "--json")
    assert consent.exit_code == 1  # SE needs no consent: refused, with the reason
    assert "needs no consent" in json.loads(consent.stdout)["reason"]
    listed = ops.cli("prices", "list", "--json")
    assert [c["change_id"] for c in json.loads(listed.stdout)] == ["individual_monthly:SE:v2"]
