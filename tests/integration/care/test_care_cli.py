"""`refrain subscriptions ...` on the emulators: care actions through the real ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from refrain.bootstrap import build_charge_worker
from refrain.domain import ManualClock
from refrain.domain.events import from_pubsub_message
from refrain.domain.subscription import BillingMode
from refrain.renewals.messages import ChargeMessage
from tests.integration.care.conftest import Ops


def _charge_the_upgrade(ops: Ops, key: str) -> None:
    """What the renewal_charge function does with the message the care action queued."""
    [queued] = ops.pull("renewal-charge", 1, settle=True)
    message = ChargeMessage.decode(queued.data)
    assert message.kind.value == "upgrade" and message.input_id == key
    clock = ManualClock(datetime(2025, 1, 10, 0, 1, tzinfo=UTC))
    report = build_charge_worker(ops.settings, clock=clock).handle(message)
    assert report.outcome == "charged", report


def _json(ops: Ops, *args: str) -> dict:  # type: ignore[type-arg]
    result = ops.cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_care_actions_apply_through_the_ledger_and_publish(ops: Ops) -> None:
    ops.seed()

    cancel = ops.cli("subscriptions", "cancel", "sub_care_1", "--reason", "too_expensive",
                     "--at", "2025-01-05T10:00:00Z")  # fmt: skip
    assert cancel.exit_code == 0, cancel.output
    assert "applied" in cancel.output and "subscription.cancel_requested" in cancel.output
    stored = ops.subscription()
    assert stored["cancel_at_period_end"] is True and stored["cancel_reason"] == "too_expensive"
    events = [from_pubsub_message(m.data, dict(m.attributes)) for m in ops.pull("churn-export", 1)]
    assert [e.type.value for e in events] == ["subscription.cancel_requested"]
    assert events[0].payload["effective_at"] == "2025-02-01T00:00:00+00:00"

    revert = _json(ops, "subscriptions", "revert", "sub_care_1", "--at", "2025-01-06T10:00:00Z")
    assert revert["status"] == "applied" and revert["events"] == ["subscription.cancel_reverted"]
    assert ops.subscription()["cancel_at_period_end"] is False

    entries = ops.outbox_ids()
    shown = _json(ops, "subscriptions", "change-plan", "sub_care_1", "duo_monthly", "--preview",
                  "--at", "2025-01-10T00:00:00Z")  # fmt: skip
    assert shown["allowed"] and shown["charge"] == {"amount": 3265, "currency": "SEK"}
    assert shown["net"]["amount"] + shown["tax"]["amount"] == 3265  # SE VAT is included
    assert ops.outbox_ids() == entries and ops.subscription()["upgrade"] is None  # read only
    up = _json(ops, "subscriptions", "change-plan", "sub_care_1", "duo_monthly",
               "--at", "2025-01-10T00:00:00Z")  # fmt: skip
    # 22 of 31 days left, price difference 4600 öre
    assert up["proration_charge"]["amount"] == 3265  # 4600 * 22 / 31 = 3264.52
    assert ops.subscription()["plan"] == "individual_monthly"  # billed before it applies
    _charge_the_upgrade(ops, up["proration_charge"]["idempotency_key"])
    stored = ops.subscription()
    assert stored["plan"] == "duo_monthly" and stored["price"]["amount"] == 18500

    down = _json(ops, "subscriptions", "change-plan", "sub_care_1", "student_monthly",
                 "--at", "2025-01-11T00:00:00Z")  # fmt: skip
    assert down["status"] == "applied" and down["proration_charge"] is None
    stored = ops.subscription()
    assert stored["plan"] == "duo_monthly" and stored["pending_plan"]["plan"] == "student_monthly"

    _json(ops, "subscriptions", "pause", "sub_care_1", "--resume-at", "2025-03-01T00:00:00Z",
          "--at", "2025-01-12T00:00:00Z")  # fmt: skip
    stored = ops.subscription()
    assert stored["state"] == "paused" and stored["resume_at"] == "2025-03-01T00:00:00+00:00"
    _json(ops, "subscriptions", "resume", "sub_care_1", "--at", "2025-01-20T00:00:00Z")
    stored = ops.subscription()
    assert stored["state"] == "active"
    assert stored["current_period_end"] == "2025-02-09T00:00:00+00:00"  # shifted by 8 days

    types = [from_pubsub_message(m.data, dict(m.attributes)).type.value
             for m in ops.pull("churn-export", 6, settle=True)]  # fmt: skip
    assert types == [
        "subscription.cancel_reverted", "subscription.plan_changed", "invoice.paid",
        "subscription.plan_changed", "subscription.paused", "subscription.resumed",
    ]  # fmt: skip
    # Every care entry was marked published after the relay published it.
    shown = _json(ops, "subscriptions", "show", "sub_care_1")
    history = shown["history"]
    assert [h["input_type"] for h in history] == [
        "CheckoutCompleted", "CancelRequested", "CancelReverted", "PlanChangeRequested",
        "PaymentSucceeded", "PlanChangeRequested", "PauseRequested", "ResumeRequested",
    ]  # fmt: skip
    assert all(h["published"] for h in history[1:])  # the seeded checkout was never relayed
    assert [h["source"] for h in history[1:]] == ["care"] * 3 + ["renewal"] + ["care"] * 3
    assert shown["subscription"]["state"] == "active"


def test_illegal_action_exits_1_changes_nothing_and_shows_in_history(ops: Ops) -> None:
    ops.seed()
    before = ops.subscription()
    result = ops.cli("subscriptions", "revert", "sub_care_1", "--at", "2025-01-05T00:00:00Z")
    assert result.exit_code == 1
    assert "illegal" in result.output and "no scheduled cancellation to revert" in result.output
    assert ops.subscription() == before
    assert ops.pull("churn-export") == []  # no event
    shown = ops.cli("subscriptions", "show", "sub_care_1")
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.stdout.splitlines() if line.startswith(("│ 1 ", "│ 2 "))]
    assert "applied" in lines[0] and "CheckoutCompleted" in lines[0]
    assert "illegal" in lines[1] and "CancelReverted" in lines[1]
    # A stale one (older than the last customer action) changes nothing either.
    ops.cli("subscriptions", "cancel", "sub_care_1", "--at", "2025-01-06T00:00:00Z")
    after_cancel = ops.subscription()
    stale = ops.cli("subscriptions", "revert", "sub_care_1", "--at", "2025-01-04T00:00:00Z")
    assert stale.exit_code == 1 and "stale" in stale.output
    assert ops.subscription() == after_cancel


def test_provider_managed_subscriptions_are_refused(ops: Ops) -> None:
    ops.seed("sub_play_1", billing_mode=BillingMode.PROVIDER_MANAGED)
    before = ops.subscription("sub_play_1")
    for args in (["cancel"], ["pause"], ["change-plan", "sub_play_1", "duo_monthly"]):
        argv = ["subscriptions", *args] if len(args) > 1 else ["subscriptions", *args, "sub_play_1"]
        result = ops.cli(*argv, "--at", "2025-01-05T00:00:00Z")
        assert result.exit_code == 1, result.output
        assert "provider" in result.output
    assert ops.subscription("sub_play_1") == before


def test_unknown_subscription_or_plan_exits_1_and_writes_nothing(ops: Ops) -> None:
    ops.seed()
    written = ops.outbox_ids()
    before = ops.subscription()
    missing = ops.cli("subscriptions", "cancel", "sub_nope")
    assert missing.exit_code == 1 and "no subscription 'sub_nope'" in missing.output
    shown = ops.cli("subscriptions", "show", "sub_nope")
    assert shown.exit_code == 1 and "no subscription" in shown.output
    plan = ops.cli("subscriptions", "change-plan", "sub_care_1", "platinum_monthly")
    assert plan.exit_code == 1 and "unknown plan 'platinum_monthly'" in plan.output
    bad_time = ops.cli("subscriptions", "pause", "sub_care_1", "--resume-at", "soon")
    assert bad_time.exit_code == 2 and "ISO-8601" in bad_time.output
    early = ops.cli("subscriptions", "pause", "sub_care_1", "--at", "2025-01-05T00:00:00Z",
                    "--resume-at", "2025-01-04T00:00:00Z")  # fmt: skip
    assert early.exit_code == 1 and "resume_at must be after the pause" in early.output
    assert ops.outbox_ids() == written
    assert ops.subscription() == before


def test_the_same_request_id_applies_once(ops: Ops) -> None:
    ops.seed()
    args = ("subscriptions", "cancel", "sub_care_1", "--request-id", "ticket-123",
            "--at", "2025-01-05T00:00:00Z")  # fmt: skip
    first = _json(ops, *args)
    again = _json(ops, *args)
    assert first["status"] == "applied"
    assert again["status"] == "duplicate" and again["previous_status"] == "applied"
    assert again["events"] == []
    assert ops.subscription()["version"] == 2
    assert [m.attributes["type"] for m in ops.pull("churn-export", 1, settle=True)] == [
        "subscription.cancel_requested"
    ]
    assert len([i for i in ops.outbox_ids() if i.startswith("care:")]) == 1


def test_ids_with_slashes_are_ids_not_paths(ops: Ops) -> None:
    # A merchant reference chose the subscription id; an operator's ticket names the request.
    sid = "sub/care:å"
    ops.seed(sid)
    args = ("subscriptions", "cancel", sid, "--request-id", "ticket/1",
            "--at", "2025-01-05T00:00:00Z")  # fmt: skip
    first = _json(ops, *args)
    assert first["status"] == "applied" and first["entry_id"] == f"care:{sid}:ticket/1"
    again = _json(ops, *args)
    assert again["status"] == "duplicate" and again["previous_status"] == "applied"
    # "ticket_1" is another request, not the same document as "ticket/1".
    revert = _json(ops, "subscriptions", "revert", sid, "--request-id", "ticket_1",
                   "--at", "2025-01-06T00:00:00Z")  # fmt: skip
    assert revert["status"] == "applied" and revert["events"] == ["subscription.cancel_reverted"]
    assert ops.subscription(sid)["subscription_id"] == sid
    history = _json(ops, "subscriptions", "show", sid)["history"]
    assert [h["entry_id"] for h in history] == [
        f"stripe:evt_checkout_{sid}",
        f"care:{sid}:ticket/1",
        f"care:{sid}:ticket_1",
    ]
