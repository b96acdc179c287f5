"""The subscription state machine: ``apply(subscription, input, now) -> Outcome``.

Pure: no I/O, no clock reads, no randomness; the same arguments always give
the same outcome, including event ids. Business-level refusals come back as
``Outcome(kind=illegal, reason=...)`` with the subscription untouched.

Duplicate rule. An input whose ``input_id`` is among the aggregate's last
``MAX_RECENT_INPUTS`` applied ids is a no-op (``duplicate``). This window only
absorbs quick redeliveries; the durable exactly-once guarantee is the
webhook's dedupe record (provider event id) written in the same transaction
as the aggregate.

Stale rule. Each input has an ordering key ``(occurred_at, provider_sequence
or -1)`` (the provider's event time, not our receive time) and a stream.
The aggregate keeps, per stream, the highest key it has applied (its
watermark). An input is **stale** and changes nothing when:

* stream ``provider_state`` or ``customer``: its key is lower than the
  stream's watermark (an older report can never overwrite a newer one);
* an ``active`` provider report whose period ends no later than the start of
  the period we mirror, whatever its key: it describes an older period
  (equal keys tie on the watermark; see :mod:`refrain.domain.provider_sync`);
* stream ``payment``, a *failure*: its key is lower than the payment
  watermark (a failure older than a success or failure already applied, so
  "failed at 10:00" arriving after "succeeded at 10:05" is ignored), or it
  names an older attempt than the current one;
* a payment *success* is never stale: money moved. If it pays a period that
  is already paid it is refused as ``illegal`` with a refund reason instead.
  Likewise a stale provider report that carries a payment (Stripe Billing's
  ``invoice.paid`` overtaken by ``customer.subscription.updated``) leaves the
  state alone but still records the payment: ``invoice.paid`` once per provider
  invoice (:func:`refrain.domain.provider_sync.late_payment`).

A payment success for a charge already recorded as paid (the checkout's own
PaymentIntent, which Stripe reports again in ``payment_intent.succeeded``) is
a ``duplicate``, never a refund request.

``timer`` inputs are checked against the aggregate's own deadlines, and
``charge`` inputs (refunds, chargebacks) are facts that never regress state,
so neither kind is ever stale. Inputs stamped more than ``MAX_CLOCK_SKEW``
after ``now`` are refused (``illegal``): a clock we do not trust may not
move watermarks into the future. Each input type's handler, stale rule and
watermark are resolved once, at import, in ``_ROUTES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from refrain.domain import actions as a
from refrain.domain import disputes
from refrain.domain import price_changes as pc
from refrain.domain import transitions as t
from refrain.domain import upgrades as u
from refrain.domain.dunning import DEFAULT_POLICY, DunningPolicy
from refrain.domain.errors import InvalidInput, NaiveDatetime
from refrain.domain.events import build_event
from refrain.domain.inputs import (
    CancelRequested,
    CancelReverted,
    ChargebackOpened,
    CheckoutCompleted,
    DisputeClosed,
    GracePeriodOver,
    GrandfatherSet,
    HoldOver,
    Input,
    PauseRequested,
    PaymentFailed,
    PaymentMethodUpdated,
    PaymentSucceeded,
    PlanChangeRequested,
    PriceChangeNoticed,
    PriceConsentGiven,
    ProviderStateReported,
    RefundIssued,
    RenewalDue,
    ResumeRequested,
)
from refrain.domain.outcome import Outcome, OutcomeKind, Step, new_outcome
from refrain.domain.provider_sync import (
    late_payment,
    older_period_reason,
)
from refrain.domain.subscription import (
    MAX_RECENT_INPUTS,
    BillingMode,
    State,
    Subscription,
    evolve_unchecked,
)

__all__ = ["MAX_CLOCK_SKEW", "apply", "due_timers", "next_deadline", "stale_reason"]

MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
WATERMARKED_STREAMS: Final = frozenset({"payment", "provider_state", "customer"})

Handler = Callable[[Subscription, Any, DunningPolicy], t.Result]

# bound once, like the states in transitions.py (EnumType.__getattr__ is slow on 3.11)
APPLIED, DUPLICATE = OutcomeKind.APPLIED, OutcomeKind.DUPLICATE
STALE, ILLEGAL = OutcomeKind.STALE, OutcomeKind.ILLEGAL
StaleRule = Callable[[Subscription, Any], str | None]


# stale rules (one per input type, see the module docstring) -----------------


def _older_than_watermark(sub: Subscription, inp: Input) -> str | None:
    stream = inp.stream
    mark = sub.watermarks.get(stream)
    if mark is not None and inp.order_key < mark:
        return f"older than the last applied {stream} input ({mark[0].isoformat()})"
    return None


def _stale_failure(sub: Subscription, inp: PaymentFailed) -> str | None:
    older = _older_than_watermark(sub, inp)
    if older is None and inp.attempt is not None and inp.attempt < sub.attempt:
        return f"failure of attempt {inp.attempt}, current attempt is {sub.attempt}"
    return older


def _stale_report(sub: Subscription, inp: ProviderStateReported) -> str | None:
    return _older_than_watermark(sub, inp) or older_period_reason(sub, inp)


@dataclass(frozen=True, slots=True)
class _Route:
    """What ``apply`` needs to know about one input type, resolved once at import."""

    handler: Handler
    stream: str | None  # the watermark this type advances (None: not ordered)
    stale: StaleRule | None  # None: never stale


def _route(
    type_: type[Input], handler: Handler, stale: StaleRule | None = _older_than_watermark
) -> tuple[type[Input], _Route]:
    stream = type_.stream if type_.stream in WATERMARKED_STREAMS else None
    return type_, _Route(handler, stream, stale if stream is not None else None)


_ROUTES: Final[dict[type[Input], _Route]] = dict(
    [
        _route(CheckoutCompleted, t.checkout_completed),
        _route(PaymentSucceeded, u.charge_succeeded, stale=None),  # money moved: never stale
        _route(PaymentFailed, u.charge_failed, stale=_stale_failure),
        _route(RenewalDue, pc.renewal_due),  # t.renewal_due, at a noticed new price
        _route(GracePeriodOver, t.grace_period_over),
        _route(HoldOver, t.hold_over),
        _route(CancelRequested, a.cancel_requested),
        _route(CancelReverted, a.cancel_reverted),
        _route(PlanChangeRequested, a.plan_change_requested),
        _route(PauseRequested, a.pause_requested),
        _route(ResumeRequested, a.resume_requested),
        _route(PaymentMethodUpdated, a.payment_method_updated),
        _route(RefundIssued, a.refund_issued),
        _route(ChargebackOpened, a.chargeback_opened),
        _route(DisputeClosed, disputes.dispute_closed),
        _route(ProviderStateReported, pc.provider_report, stale=_stale_report),
        _route(PriceChangeNoticed, pc.price_change_noticed),
        _route(PriceConsentGiven, pc.price_consent_given),
        _route(GrandfatherSet, pc.grandfather_set),
    ]
)
_HANDLERS: Final[dict[type[Input], Handler]] = {k: r.handler for k, r in _ROUTES.items()}


def _no_route(inp: Input) -> InvalidInput:
    return InvalidInput(f"no transition for input type {type(inp).__name__}")


def stale_reason(sub: Subscription, inp: Input) -> str | None:
    """Why ``inp`` is stale against ``sub``'s watermarks, or None if it is not."""
    route = _ROUTES.get(type(inp))
    if route is None:
        raise _no_route(inp)
    return None if route.stale is None else route.stale(sub, inp)


def apply(
    sub: Subscription, inp: Input, now: datetime, policy: DunningPolicy = DEFAULT_POLICY
) -> Outcome:
    """Apply one input. Never raises for business-level refusals."""
    if now.tzinfo is None:
        raise NaiveDatetime("now")
    route = _ROUTES.get(type(inp))
    if route is None:
        raise _no_route(inp)
    if inp.input_id in sub.recent_input_ids:
        return new_outcome(DUPLICATE, sub, reason="input already applied")
    if isinstance(inp, PaymentSucceeded) and inp.charge_id in sub.paid_charge_ids:
        return new_outcome(DUPLICATE, sub, reason=f"payment {inp.charge_id} already recorded")
    if inp.occurred_at > now + MAX_CLOCK_SKEW:
        return new_outcome(ILLEGAL, sub, reason="event time is in the future")
    if route.stale is not None:
        stale = route.stale(sub, inp)
        if stale is not None:
            late = late_payment(sub, inp) if isinstance(inp, ProviderStateReported) else None
            if late is not None:  # the state stays as the newer report left it
                return _commit(sub, inp, None, late, now)
            return new_outcome(STALE, sub, reason=stale)
    result = route.handler(sub, inp, policy)
    if isinstance(result, str):
        return new_outcome(ILLEGAL, sub, reason=result)
    return _commit(sub, inp, route.stream, result, now)


def _commit(
    sub: Subscription, inp: Input, stream: str | None, step: Step, now: datetime
) -> Outcome:
    changes = step.changes
    if stream is not None:
        key = inp.order_key
        mark = sub.watermarks.get(stream)
        if mark is None or key > mark:
            changes["watermarks"] = {**sub.watermarks, stream: key}
    recent = sub.recent_input_ids
    if len(recent) >= MAX_RECENT_INPUTS:
        recent = recent[len(recent) - MAX_RECENT_INPUTS + 1 :]
    changes["recent_input_ids"] = (*recent, inp.input_id)
    drafts = step.drafts
    first = sub.sequence + 1
    changes["version"] = sub.version + 1
    changes["sequence"] = sub.sequence + len(drafts)
    new = evolve_unchecked(sub, changes)
    if not drafts:
        return new_outcome(APPLIED, new, (), charge=step.charge)
    context = {
        "account_id": new.account_id,
        "provider": new.provider,
        "billing_mode": new.billing_mode,  # StrEnum: serialises as its value
        "plan": new.plan,
        "market": new.market,
        "state": new.state,
        "renewal_count": new.renewal_count,
        "failed_attempts": new.failed_attempts,
    }
    sid, at = sub.subscription_id, inp.occurred_at
    events = tuple(
        [
            build_event(
                subscription_id=sid,
                sequence=sequence,
                type=type_,
                occurred_at=at,
                recorded_at=now,
                payload=context | payload,
            )
            for sequence, (type_, payload) in enumerate(drafts, start=first)
        ]
    )
    return new_outcome(APPLIED, new, events, charge=step.charge)


def due_timers(sub: Subscription, now: datetime) -> list[Input]:
    """Timer inputs due at ``now``, with deterministic ids so double ticks dedupe."""
    if sub.billing_mode is not BillingMode.MERCHANT_MANAGED:
        return []
    out: list[Input] = []
    sid = sub.subscription_id
    if sub.state is State.PAST_DUE and sub.grace_until is not None and now >= sub.grace_until:
        stamp = sub.grace_until.isoformat()  # per dunning episode: a later one is not a duplicate
        out.append(GracePeriodOver(input_id=f"{sid}:grace_over:{stamp}", occurred_at=now))
    elif sub.state is State.ON_HOLD and sub.hold_until is not None and now >= sub.hold_until:
        stamp = sub.hold_until.isoformat()
        out.append(HoldOver(input_id=f"{sid}:hold_over:{stamp}", occurred_at=now))
    elif sub.state is State.PAUSED and sub.resume_at is not None and now >= sub.resume_at:
        stamp = sub.resume_at.isoformat()
        out.append(ResumeRequested(input_id=f"{sid}:auto_resume:{stamp}", occurred_at=now))
    if sub.next_charge_at is not None and now >= sub.next_charge_at and not out:
        stamp = sub.next_charge_at.isoformat()
        out.append(RenewalDue(input_id=f"{sid}:renewal_due:{stamp}", occurred_at=now))
    return out


# An upgrade's charge is queued by the care action; the tick queues it again once it has
# waited this long (a lost message, a queue that was down): the worker charges a claimed
# key at most once, so a second message costs nothing.
UPGRADE_REQUEUE_AFTER = timedelta(minutes=5)


def upgrade_requeue_due(sub: Subscription, now: datetime) -> bool:
    upgrade = sub.upgrade
    return upgrade is not None and now >= upgrade.requested_at + UPGRADE_REQUEUE_AFTER


def next_deadline(sub: Subscription) -> datetime | None:
    """The earliest moment a timer input becomes due (what the scheduler indexes on)."""
    if sub.billing_mode is not BillingMode.MERCHANT_MANAGED:
        return None
    candidates = [sub.next_charge_at]
    if sub.upgrade is not None:
        candidates.append(sub.upgrade.requested_at + UPGRADE_REQUEUE_AFTER)
    if sub.state is State.PAST_DUE:
        candidates.append(sub.grace_until)
    elif sub.state is State.ON_HOLD:
        candidates.append(sub.hold_until)
    elif sub.state is State.PAUSED:
        candidates.append(sub.resume_at)
    present = [c for c in candidates if c is not None]
    return min(present) if present else None
