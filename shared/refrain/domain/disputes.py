"""Disputes as a lifecycle: opened, then won or lost; each step applied once.

Opened (``ChargebackOpened``, refrain.domain.actions): access ends when the dunning
policy says so (``revoke_on_chargeback``), the evidence due date travels on the
event, and the dispute is recorded in its payment's tally (refrain.domain.refunds),
where it stops an operator from refunding the same money a second time.

Closed (``DisputeClosed``):

* **won**: the money came back. A merchant-managed subscription whose access this
  dispute ended, and whose paid period has not run out, is active again until the
  end of that period, with its renewal scheduled (``subscription.recovered`` from
  ``expired``); otherwise only the signal.
* **lost**: the money is the cardholder's. The stored payment method is dropped, so
  no renewal is ever retried on a card whose holder disputed it (the next renewal
  asks for a new one); the receipt path issues a credit note for the amount.

Providers repeat themselves (Adyen sends NOTIFICATION_OF_CHARGEBACK then
CHARGEBACK for one dispute): a step already recorded for that dispute is ignored.
"""

from __future__ import annotations

from refrain.domain.dunning import DunningPolicy
from refrain.domain.events import EventType
from refrain.domain.inputs import ChargebackOpened, DisputeClosed
from refrain.domain.outcome import Step
from refrain.domain.refunds import DisputeRecord, DisputeStatus, RefundTally
from refrain.domain.subscription import ChurnType, Subscription
from refrain.domain.transitions import ACTIVE, EXPIRED, MERCHANT_MANAGED, Result

__all__ = ["dispute_closed", "record_closing", "record_opening"]


def _dispute_id(inp: ChargebackOpened | DisputeClosed) -> str:
    return inp.dispute_id or inp.charge_id


def record_opening(
    tally: RefundTally | None, inp: ChargebackOpened
) -> tuple[RefundTally, str | None]:
    """(the tally with the dispute open, why nothing changes: it was recorded already)."""
    current = tally or RefundTally(inp.amount.currency)
    found = current.dispute(_dispute_id(inp))
    if found is not None:
        return current, f"dispute {found.dispute_id} is {found.status.value} already"
    opened = DisputeRecord(
        _dispute_id(inp), inp.amount.amount, DisputeStatus.OPEN, inp.evidence_due_at
    )
    return current.with_dispute(opened), None


def record_closing(tally: RefundTally | None, inp: DisputeClosed) -> tuple[RefundTally, str | None]:
    """(the tally with the dispute decided, why nothing changes: decided so already).

    A decision may change (a pre-arbitration won after a lost chargeback, a second
    chargeback after a reversal); the same decision again is a repeat.
    """
    current = tally or RefundTally(inp.amount.currency)
    status = DisputeStatus.WON if inp.won else DisputeStatus.LOST
    found = current.dispute(_dispute_id(inp))
    if found is not None and found.status is status:
        return current, f"dispute {found.dispute_id} is {status.value} already"
    due = found.evidence_due_at if found is not None else None
    decided = DisputeRecord(_dispute_id(inp), inp.amount.amount, status, due)
    return current.with_dispute(decided), None


def dispute_closed(sub: Subscription, inp: DisputeClosed, policy: DunningPolicy) -> Result:
    if inp.amount.currency != sub.currency:
        return f"dispute in {inp.amount.currency}, subscription is in {sub.currency}"
    step = Step()
    restore = (
        inp.won
        and sub.billing_mode is MERCHANT_MANAGED
        and sub.state is EXPIRED
        and sub.churn_type is ChurnType.REVOKED
        and sub.revoked_by == inp.charge_id
        and sub.current_period_end is not None
        and inp.occurred_at < sub.current_period_end
    )
    blocked = not inp.won and sub.payment_method_ref is not None
    step.emit(
        EventType.CHARGE_DISPUTE_CLOSED, charge_id=inp.charge_id, amount=inp.amount.amount,
        currency=inp.amount.currency, won=inp.won, access_restored=restore,
        payment_method_blocked=blocked,
    )  # fmt: skip
    if restore:
        step.changes.update(
            state=ACTIVE, ended_at=None, churn_type=None, revoked_by=None,
            next_charge_at=sub.current_period_end,
        )  # fmt: skip
        step.emit(EventType.RECOVERED, from_state=EXPIRED.value)
    if blocked:
        step.changes["payment_method_ref"] = None  # never retried; a new card is needed
    return step
