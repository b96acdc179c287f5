"""The deployed entry points, the due query, reconciliation and bad input, on the emulators."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudevents.http import CloudEvent

from refrain.adapters.firestore_collections import CHARGES, OUTBOX, SUBSCRIPTIONS
from refrain.adapters.firestore_ledger import FirestoreLedger
from refrain.adapters.firestore_renewals import FirestoreDueSource, seed_subscriptions
from refrain.adapters.firestore_shards import SHARDS, shard_of
from refrain.bootstrap import build_webhook_service
from refrain.domain import PaymentFailed, PaymentSucceeded, classify_stripe
from refrain.domain.events import EventType
from refrain.domain.subscription import State, evolve
from refrain.ingest.routes import WebhookSettings
from refrain.ledger import LedgerCommand, LedgerStatus
from refrain.renewals import sandbox
from refrain.renewals.messages import ChargeMessage, TimerKind
from refrain.settings import CloudSettings
from refrain_tools.renewals.population import active_subscription
from refrain_tools.simulator import events
from refrain_tools.simulator.signing import stripe_signature
from tests.integration.renewals.conftest import START, Rig
from tests.support import load_function, pull_messages

DUE_AT = START + timedelta(days=31)  # active_subscription(period_start=START) renews at Feb 1


def _event(data: dict[str, Any]) -> CloudEvent:
    attributes = {
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": "//pubsub.googleapis.com/projects/refrain-local/topics/renewal-charges",
    }
    return CloudEvent(attributes, data)


def _pull(cloud: CloudSettings, want: int) -> list[Any]:
    return pull_messages(cloud, "renewal-charge", lambda got: len(got) >= want, max_messages=50)


def test_tick_function_publishes_due_ones_and_charge_function_renews(cloud: CloudSettings) -> None:
    module = load_function("renewal_trigger")
    module.tick.cache_clear()  # built from this environment (sandbox gateway, real clock)
    module.worker.cache_clear()
    now = datetime.now(UTC)
    due = [
        active_subscription(
            f"due_{i}", payment_method_ref=sandbox.OK, period_start=now - timedelta(days=40 + i)
        )
        for i in range(3)
    ]
    later = [
        active_subscription(
            f"later_{i}", payment_method_ref=sandbox.OK, period_start=now - timedelta(days=3)
        )
        for i in range(20)
    ]
    db = module.worker().ledger.db
    seed_subscriptions(db, due + later)
    module.renewal_tick(_event({"message": {"data": "", "messageId": "t1"}}))
    pulled = _pull(cloud, want=3)
    assert sorted(m.ordering_key for m in pulled) == ["due_0", "due_1", "due_2"]
    assert {m.attributes["type"] for m in pulled} == {"renewal.due"}
    for m in pulled:
        data = base64.b64encode(m.data).decode()
        module.renewal_charge(_event({"message": {"data": data, "messageId": m.message_id}}))
        module.renewal_charge(_event({"message": {"data": data, "messageId": "redelivered"}}))
    for sub in due:
        stored = db.collection(SUBSCRIPTIONS).document(sub.subscription_id).get().to_dict() or {}
        assert stored["renewal_count"] == 1 and stored["state"] == "active"
    assert len(list(db.collection(CHARGES).stream())) == 3
    # malformed: logged and acked (returns), nothing written
    before = len(list(db.collection(OUTBOX).stream()))
    module.renewal_charge(_event({"message": {"data": base64.b64encode(b"{oops").decode()}}))
    module.renewal_charge(_event({"message": {}}))
    assert len(list(db.collection(OUTBOX).stream())) == before
    module.tick.cache_clear()
    module.worker.cache_clear()


def test_due_query_reads_only_due_documents(rig: Rig) -> None:
    subs = [
        active_subscription(
            f"s{i:03d}", payment_method_ref=sandbox.OK, period_start=START + timedelta(hours=i)
        )
        for i in range(200)
    ]
    expired = evolve(subs[0], {"state": State.EXPIRED, "next_charge_at": None})
    seed_subscriptions(rig.db, [expired, *subs[1:]])
    source = FirestoreDueSource(rig.db)
    pages = list(source.due_pages(DUE_AT + timedelta(hours=9, minutes=30), page_size=4))
    ids = [s.subscription_id for page in pages for s in page]
    assert ids == [f"s{i:03d}" for i in range(1, 10)]  # in deadline order, expired excluded
    # Each shard is asked apart (its index range written side by side): the due documents,
    # plus the one read Firestore bills for an empty answer, per shard that ran dry on a
    # full page or had nothing due. Still O(due), never the 200 stored.
    per_shard = Counter(shard_of(i) for i in ids)
    assert len(per_shard) > 1  # the nine spread over several shards
    empty_answers = sum(1 for s in range(SHARDS) if per_shard[s] % 4 == 0)
    assert source.documents_read == 9 + empty_answers and len(pages) == 3


def _webhook_success(
    charge_id: str, event_id: str, at: datetime, period: datetime = DUE_AT
) -> LedgerCommand:
    """What the webhook's payment_intent.succeeded mapping hands the ledger."""
    inp = PaymentSucceeded(
        input_id=event_id, occurred_at=at, charge_id=charge_id,
        amount=active_subscription("x", payment_method_ref="p", period_start=START).price,
        charge_period=period, attempt=1,
    )  # fmt: skip
    return LedgerCommand(f"stripe:{event_id}", "sub_r", inp, at, "stripe")


def test_webhook_confirmation_reconciles_with_the_worker_in_both_orders(rig: Rig) -> None:
    ledger = FirestoreLedger(rig.db)
    seed_subscriptions(
        rig.db, [active_subscription("sub_r", payment_method_ref=sandbox.OK, period_start=START)]
    )
    rig.clock.set(DUE_AT)
    rig.inline.run()  # the worker charges and records first
    key = "sub_r:20250201T000000Z:1"
    late = ledger.apply(_webhook_success(key, "evt_late", DUE_AT + timedelta(minutes=1)))
    assert late.status is LedgerStatus.DUPLICATE  # not "illegal: refund it"
    stored = rig.db.collection(SUBSCRIPTIONS).document("sub_r").get().to_dict() or {}
    assert stored["renewal_count"] == 1
    # next period: the worker crashes after the provider call, the webhook arrives first
    rig.clock.set(DUE_AT + timedelta(days=28))
    rig.inline.worker.crash_after_gateway = lambda _: (_ for _ in ()).throw(RuntimeError("kill"))
    rig.inline.max_redeliveries = 0
    assert rig.inline.run().gave_up == 1
    key2 = "sub_r:20250301T000000Z:1"
    cmd = _webhook_success(key2, "evt_early", DUE_AT + timedelta(days=28, minutes=1))
    inp = cmd.input
    assert isinstance(inp, PaymentSucceeded)
    early = LedgerCommand(
        cmd.dedupe_key,
        "sub_r",
        PaymentSucceeded(
            **{
                **{
                    f: getattr(inp, f)
                    for f in ("input_id", "occurred_at", "charge_id", "amount", "attempt")
                },
                "charge_period": datetime(2025, 3, 1, tzinfo=UTC),
            }
        ),
        cmd.now,
        "stripe",
    )
    assert ledger.apply(early).status is LedgerStatus.APPLIED
    charge = rig.db.collection(CHARGES).document(key2).get().to_dict() or {}
    assert charge["status"] == "succeeded" and charge["recorded_by"] == "stripe"
    rig.inline.worker.crash_after_gateway = None
    message = ChargeMessage(
        "sub_r", TimerKind.RENEWAL_DUE, "sub_r:renewal_due:2025-03-01T00:00:00+00:00"
    )
    assert rig.inline.worker.handle(message).outcome == "duplicate"  # nothing left to do
    stored = rig.db.collection(SUBSCRIPTIONS).document("sub_r").get().to_dict() or {}
    assert stored["renewal_count"] == 2 and rig.sandbox.charges == 2


def test_a_late_webhook_decline_does_not_touch_a_recorded_decline(rig: Rig) -> None:
    ledger = FirestoreLedger(rig.db)
    seed_subscriptions(
        rig.db,
        [
            active_subscription(
                "sub_r", payment_method_ref=sandbox.INSUFFICIENT_FUNDS, period_start=START
            )
        ],
    )
    rig.clock.set(DUE_AT)
    rig.inline.run()
    before = rig.db.collection(SUBSCRIPTIONS).document("sub_r").get().to_dict()
    inp = PaymentFailed(
        input_id="evt_f", occurred_at=DUE_AT, charge_id="sub_r:20250201T000000Z:1",
        amount=active_subscription("x", payment_method_ref="p", period_start=START).price,
        decline=classify_stripe("card_declined", "insufficient_funds"), charge_period=DUE_AT,
        attempt=1,
    )  # fmt: skip
    result = ledger.apply(LedgerCommand("stripe:evt_f", "sub_r", inp, DUE_AT, "stripe"))
    assert result.status is LedgerStatus.DUPLICATE
    assert rig.db.collection(SUBSCRIPTIONS).document("sub_r").get().to_dict() == before


def test_unknown_and_expired_subscriptions_are_acked_unchanged(rig: Rig) -> None:
    gone = evolve(
        active_subscription("sub_gone", payment_method_ref=sandbox.OK, period_start=START),
        {"state": State.EXPIRED},
    )
    seed_subscriptions(rig.db, [gone])
    before = rig.db.collection(SUBSCRIPTIONS).document("sub_gone").get().to_dict()
    rig.clock.set(DUE_AT)
    worker = rig.inline.worker
    stamp = "2025-02-01T00:00:00+00:00"
    unknown = worker.handle(
        ChargeMessage("sub_nope", TimerKind.RENEWAL_DUE, f"sub_nope:renewal_due:{stamp}")
    )
    expired = worker.handle(
        ChargeMessage("sub_gone", TimerKind.RENEWAL_DUE, f"sub_gone:renewal_due:{stamp}")
    )
    assert unknown.outcome == "no_subscription" and expired.outcome == "illegal"
    assert rig.db.collection(SUBSCRIPTIONS).document("sub_gone").get().to_dict() == before
    assert not list(rig.db.collection(CHARGES).stream()) and not rig.sandbox.calls


def test_cli_runs_a_tick_and_the_charges_inline(rig: Rig) -> None:
    from click.testing import CliRunner

    from refrain_tools.cli import main

    seed_subscriptions(
        rig.db, [active_subscription("sub_cli", payment_method_ref=sandbox.OK, period_start=START)]
    )
    runner = CliRunner()
    bad = runner.invoke(main, ["renewals", "run", "--at", "next tuesday"])
    assert bad.exit_code == 2 and "not an ISO time" in bad.output
    result = runner.invoke(main, ["renewals", "run", "--at", "2025-02-01T06:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "due 1" in result.output and "event subscription.renewed: 1" in result.output
    stored = rig.db.collection(SUBSCRIPTIONS).document("sub_cli").get().to_dict() or {}
    assert stored["renewal_count"] == 1


def test_a_chargeback_on_a_renewal_charge_finds_its_subscription(
    rig: Rig, cloud: CloudSettings
) -> None:
    """A Stripe dispute names the PaymentIntent only (no metadata of ours): the worker
    indexes the provider's payment id when it records the charge, because the provider's
    own success webhook arrives as a duplicate and writes nothing."""
    seed_subscriptions(
        rig.db, [active_subscription("sub_r", payment_method_ref=sandbox.OK, period_start=START)]
    )
    rig.clock.set(DUE_AT)
    [report] = rig.inline.run().reports
    assert report.outcome == "charged" and rig.sandbox.charges == 1
    [payment] = list(rig.sandbox._results.values())
    assert payment.provider_ref
    secret = "whsec_renewal_dispute"  # pragma: allowlist secret - a local test secret
    service = build_webhook_service(
        cloud,
        webhook=WebhookSettings.model_validate({"STRIPE_WEBHOOK_SECRET": secret}),
        clock=rig.clock,
    )
    dispute = events.dispute_created(
        at=DUE_AT + timedelta(days=3),
        payment_intent=payment.provider_ref,
        amount=active_subscription("x", payment_method_ref="p", period_start=START).price,
    )
    body = json.dumps(dispute).encode()
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_signature(body, secret),
    }
    rig.clock.set(DUE_AT + timedelta(days=3))
    answer = service.handle("POST", "/stripe", headers, body)

    assert answer.status == 200, answer.body
    entry = rig.db.collection(OUTBOX).document(f"stripe:{dispute['id']}").get().to_dict() or {}
    assert entry["subscription_id"] == "sub_r" and entry["status"] == "applied"
    assert EventType.CHARGE_DISPUTED.value in [json.loads(e)["type"] for e in entry["events"]]
