"""The charge worker: one due timer in, at most one charge per key out.

Order of work for a ``renewal_due`` message:

1. **claim**: the ledger applies RenewalDue and, in the same transaction,
   creates ``charges/{charge_id}`` (charge id = idempotency key
   "{subscription}:{billing anchor}:{attempt}", create precondition). The
   attempt number only moves when a decline has been recorded, so every
   redelivery and re-drive of an undecided charge carries the same key;
2. **charge**: the gateway is called with the charge id as the provider's
   idempotency key. Timeouts / 5xx raise :class:`GatewayUnavailable`, which
   propagates: Pub/Sub redelivers, step 1 answers DUPLICATE, the worker finds
   the still-pending charge (``PendingCharges``) and calls again with the same
   key, and the provider answers from its idempotency store;
3. **record**: PaymentSucceeded / PaymentFailed through the ledger (dedupe key
   "charge:{charge_id}"), which also writes the outcome onto the charge record. A
   decline carries the dunning experiment's variant for the subscription
   (refrain.renewals.assignment), and the state machine schedules the next attempt by
   that variant's policy (refrain.domain.smart_retry); the log line names both.
   If the webhook's asynchronous confirmation recorded it first, this is a
   DUPLICATE no-op, and vice versa (reconciliation rules: refrain.domain.charges).

``grace_over`` / ``hold_over`` / ``auto_resume`` messages are step 1 only.
Unknown or already-expired subscriptions change nothing and are acked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from refrain.domain.clock import Clock
from refrain.domain.events import DomainEvent, EventType
from refrain.domain.inputs import Input, PaymentFailed, PaymentSucceeded
from refrain.domain.outcome import ChargeRequest
from refrain.domain.subscription import Subscription
from refrain.ledger import Ledger, LedgerCommand, LedgerResult, LedgerStatus
from refrain.observability import Logger
from refrain.outbox import OutboxPublisher
from refrain.renewals.assignment import RetryAssigner
from refrain.renewals.gateway import ChargeStatus, GatewayCharge, GatewayResult, GatewayRouter
from refrain.renewals.messages import ChargeMessage, TimerKind

SOURCE = "renewal"
# The `outcome` label of a renewal charge's log line; terraform/monitoring.tf counts them
# (refrain_tools.infra.alertcheck holds the two together).
CHARGED, DECLINED, PENDING_CONFIRMATION = "charged", "declined", "pending_confirmation"
CHARGE_OUTCOMES = (CHARGED, DECLINED, PENDING_CONFIRMATION)


class PendingCharges(Protocol):
    def pending_charge(self, subscription_id: str) -> tuple[ChargeRequest, Subscription] | None:
        """The subscription's claimed, undecided charge (a crashed or in-flight attempt)."""
        ...


@dataclass
class WorkerReport:
    subscription_id: str
    outcome: str  # applied | duplicate | illegal | stale | unknown_subscription | charged | ...
    reason: str | None = None
    charge_id: str | None = None
    gateway: str | None = None
    events: list[DomainEvent] = field(default_factory=list)
    retry_variant: str | None = None  # the dunning experiment's variant, if one decided
    retry_policy: str | None = None  # the policy/version that scheduled the next attempt


@dataclass
class ChargeWorker:
    ledger: Ledger
    pending: PendingCharges
    gateways: GatewayRouter
    publisher: OutboxPublisher
    clock: Clock
    log: Logger
    # The dunning experiment (refrain.renewals.assignment); None: the fixed schedule.
    assigner: RetryAssigner | None = None
    # Test-only fault injection: raise after the provider answered, before the record.
    crash_after_gateway: Callable[[GatewayCharge], None] | None = None

    def handle(self, message: ChargeMessage, trace: str | None = None) -> WorkerReport:
        """``trace``: the Cloud Logging trace the message carried, for this message's lines."""
        log = self.log.bind(trace=trace)
        sid = message.subscription_id
        if message.kind is TimerKind.UPGRADE:  # claimed already, by the care action
            report = WorkerReport(sid, "no_pending_upgrade")
            charge, sub = self._upgrade_to_charge(message)
        else:
            now = self.clock.now()
            result = self._apply(message.dedupe_key, sid, message.to_input(now), claim=True)
            report = WorkerReport(
                sid, result.status.value, result.reason, events=list(result.events)
            )
            charge, sub = self._charge_to_make(message, result)
        if charge is None or sub is None:
            self._log(message, report, log)
            return report
        report.charge_id = charge.idempotency_key
        outcome = self._call_gateway(charge, sub)
        report.gateway = outcome.status.value
        if outcome.status is ChargeStatus.PENDING:
            report.outcome = PENDING_CONFIRMATION  # the webhook records it
        else:
            recorded = self._record(charge, outcome, sub, report)
            report.outcome = CHARGED if outcome.status is ChargeStatus.SUCCEEDED else DECLINED
            if recorded.status is not LedgerStatus.APPLIED:
                report.outcome = f"{report.outcome}:{recorded.status.value}"
                report.reason = recorded.reason
            report.events.extend(recorded.events)
        self._log(message, report, log)
        return report

    # -- steps -------------------------------------------------------------------------------

    def _charge_to_make(
        self, message: ChargeMessage, result: LedgerResult
    ) -> tuple[ChargeRequest | None, Subscription | None]:
        if result.status is LedgerStatus.APPLIED and result.charge is not None:
            if result.claim in ("created", "pending"):
                return result.charge, result.subscription
            return None, None  # decided already; its outcome is recorded
        if message.kind is TimerKind.RENEWAL_DUE and result.status in (
            LedgerStatus.DUPLICATE,
            LedgerStatus.ILLEGAL,
        ):
            # A redelivery after a transient gateway error (or a duplicate message):
            # finish the claimed charge with the same key.
            found = self.pending.pending_charge(message.subscription_id)
            if found is not None:
                return found
        return None, None

    def _upgrade_to_charge(
        self, message: ChargeMessage
    ) -> tuple[ChargeRequest | None, Subscription | None]:
        """The upgrade charge still claimed and undecided under this key (else decided)."""
        found = self.pending.pending_charge(message.subscription_id)
        if found is not None and found[0].idempotency_key == message.input_id:
            return found
        return None, None

    def _call_gateway(self, charge: ChargeRequest, sub: Subscription) -> GatewayResult:
        request = GatewayCharge(
            charge_id=charge.idempotency_key,
            subscription_id=charge.subscription_id,
            account_id=sub.account_id,
            amount=charge.amount,
            payment_method_ref=charge.payment_method_ref,
            billing_anchor=charge.billing_anchor,
            attempt=charge.attempt,
        )
        outcome = self.gateways.for_provider(sub.provider).charge(request)  # may raise: redeliver
        if self.crash_after_gateway is not None:
            self.crash_after_gateway(request)
        return outcome

    def _record(
        self, charge: ChargeRequest, outcome: GatewayResult, sub: Subscription, report: WorkerReport
    ) -> LedgerResult:
        """Record the gateway's answer; index the provider's payment id with it.

        A dispute or refund names the provider's payment (a Stripe dispute carries the
        PaymentIntent, not our metadata). When the worker records first, the provider's
        own success webhook is a duplicate that writes nothing, so the reference must be
        indexed here or the chargeback of a renewal could never find its subscription.
        """
        now = self.clock.now()
        key_id, anchor, attempt = charge.idempotency_key, charge.billing_anchor, charge.attempt
        inp: Input
        if outcome.status is ChargeStatus.SUCCEEDED:
            inp = PaymentSucceeded(
                input_id=key_id, occurred_at=now, charge_id=key_id, amount=charge.amount,
                charge_period=anchor, attempt=attempt,
            )  # fmt: skip
        else:
            assert outcome.decline is not None
            # Assigned at the failure's time: the exposure row is derived the same way.
            assignment = self.assigner.assign(sub, now) if self.assigner else None
            report.retry_variant = assignment.variant if assignment else None
            inp = PaymentFailed(
                input_id=key_id, occurred_at=now, charge_id=key_id, amount=charge.amount,
                decline=outcome.decline, charge_period=anchor, attempt=attempt,
                retry_variant=report.retry_variant,
            )  # fmt: skip
        key = f"charge:{charge.idempotency_key}"
        refs = (f"{sub.provider}:{outcome.provider_ref}",) if outcome.provider_ref else ()
        result = self._apply(key, charge.subscription_id, inp, claim=False, refs=refs)
        for event in result.events:
            if event.type is EventType.PAYMENT_FAILED:
                report.retry_policy = event.payload.get("retry_policy")
        return result

    def _apply(
        self, dedupe_key: str, sid: str, inp: Input, *, claim: bool, refs: tuple[str, ...] = ()
    ) -> LedgerResult:
        result = self.ledger.apply(
            LedgerCommand(
                dedupe_key=dedupe_key,
                subscription_id=sid,
                input=inp,
                now=self.clock.now(),
                source=SOURCE,
                claim_charge=claim,
                refs=refs,
            )
        )
        self.publisher.announce(result.outbox_id, result.events)
        return result

    def _log(self, message: ChargeMessage, report: WorkerReport, log: Logger) -> None:
        log.info(
            "renewal charge",
            subscription_id=report.subscription_id,
            kind=message.kind.value,
            outcome=report.outcome,
            reason=report.reason,
            charge_id=report.charge_id,
            gateway=report.gateway,
            retry_variant=report.retry_variant,
            retry_policy=report.retry_policy,
            domain_events=[e.type.value for e in report.events],
        )
