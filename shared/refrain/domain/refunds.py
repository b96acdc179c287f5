"""The refunds of one payment: each refund credited once, never more than was paid.

Two reporters meet here. An operator refund is reserved, sent to the gateway
that took the payment, and credited from the gateway's answer; the provider
then notifies the same refund. They name it differently: Adyen gives each
refund its own pspReference, Stripe's ``charge.refunded`` carries only the
payment's cumulative ``amount_refunded``. The tally of a payment keeps what
both need, so a report credits only what it adds:

* a report whose ``refund_id`` was credited before adds nothing;
* a report with the provider's cumulative total adds ``total - credited``
  (whichever of the operator's answer and the webhook commits first credits
  it, the other adds 0; refunds reported out of order still sum right);
* otherwise it adds its own amount.

Operator requests are reserved against what is left (paid, minus credited,
minus other requests still in flight) in the same transaction that records
them, so two operators cannot refund the same money twice. Pure; the ledger
reads and writes the tally with the subscription (refrain.ledger).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from refrain.domain.errors import DomainError
from refrain.domain.inputs import ChargebackOpened, DisputeClosed, RefundIssued
from refrain.domain.money import Money

__all__ = [
    "DisputeRecord",
    "DisputeStatus",
    "RefundRefused",
    "RefundRequest",
    "RefundTally",
    "RequestStatus",
    "credit",
    "reserve",
    "settle",
    "tally_key",
]


class RefundRefused(DomainError):
    """An operator refund that must not reach the gateway (nothing was changed)."""


class RequestStatus(StrEnum):
    RESERVED = "reserved"  # counted against what is left; the gateway not answered yet
    SUBMITTED = "submitted"  # the gateway took it; the provider's notification credits it
    CREDITED = "credited"  # in the tally's credited amount
    FAILED = "failed"  # the gateway refused it; released


_IN_FLIGHT = (RequestStatus.RESERVED, RequestStatus.SUBMITTED)


@dataclass(frozen=True, slots=True)
class RefundRequest:
    request_id: str
    amount: int
    reason: str
    status: RequestStatus
    requested_at: datetime
    refund_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "reason": self.reason,
            "status": self.status.value,
            "requested_at": self.requested_at,
            "refund_id": self.refund_id,
        }

    @classmethod
    def from_dict(cls, request_id: str, data: dict[str, Any]) -> RefundRequest:
        return cls(
            request_id=request_id,
            amount=int(data["amount"]),
            reason=str(data.get("reason") or ""),
            status=RequestStatus(data["status"]),
            requested_at=data["requested_at"],
            refund_id=data.get("refund_id"),
        )


class DisputeStatus(StrEnum):
    OPEN = "open"  # the network took (or may take) the money back; evidence due
    WON = "won"  # the money came back
    LOST = "lost"  # the money is the cardholder's


@dataclass(frozen=True, slots=True)
class DisputeRecord:
    """One dispute of the payment (refrain.domain.disputes keeps it)."""

    dispute_id: str
    amount: int
    status: DisputeStatus
    evidence_due_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "status": self.status.value,
            "evidence_due_at": self.evidence_due_at,
        }

    @classmethod
    def from_dict(cls, dispute_id: str, data: dict[str, Any]) -> DisputeRecord:
        return cls(
            dispute_id,
            int(data["amount"]),
            DisputeStatus(data["status"]),
            data.get("evidence_due_at"),
        )


@dataclass(frozen=True, slots=True)
class RefundTally:
    """What has been given back on one payment, in its currency: refunds and disputes."""

    currency: str
    credited: int = 0
    refund_ids: tuple[str, ...] = ()
    requests: tuple[RefundRequest, ...] = ()
    disputes: tuple[DisputeRecord, ...] = ()

    def in_flight(self) -> int:
        return sum(r.amount for r in self.requests if r.status in _IN_FLIGHT)

    def disputed(self) -> int:
        """What a dispute holds or took: never refundable on top (open or lost)."""
        return sum(d.amount for d in self.disputes if d.status is not DisputeStatus.WON)

    def dispute(self, dispute_id: str) -> DisputeRecord | None:
        return next((d for d in self.disputes if d.dispute_id == dispute_id), None)

    def with_dispute(self, record: DisputeRecord) -> RefundTally:
        others = tuple(d for d in self.disputes if d.dispute_id != record.dispute_id)
        return replace(self, disputes=(*others, record))

    def request(self, request_id: str) -> RefundRequest | None:
        return next((r for r in self.requests if r.request_id == request_id), None)

    def left(self, paid: Money) -> Money:
        """What an operator may still refund: paid, minus credited, in flight and disputed."""
        left = paid.amount - self.credited - self.in_flight() - self.disputed()
        return Money(max(0, left), paid.currency)

    def with_request(self, request: RefundRequest) -> RefundTally:
        others = tuple(r for r in self.requests if r.request_id != request.request_id)
        return replace(self, requests=(*others, request))

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "credited": self.credited,
            "refund_ids": list(self.refund_ids),
            "requests": {r.request_id: r.to_dict() for r in self.requests},
            "disputes": {d.dispute_id: d.to_dict() for d in self.disputes},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RefundTally:
        requests = data.get("requests") or {}
        disputes = data.get("disputes") or {}
        return cls(
            currency=str(data["currency"]),
            credited=int(data.get("credited") or 0),
            refund_ids=tuple(data.get("refund_ids") or ()),
            requests=tuple(RefundRequest.from_dict(k, v) for k, v in sorted(requests.items())),
            disputes=tuple(DisputeRecord.from_dict(k, v) for k, v in sorted(disputes.items())),
        )


def tally_key(inp: RefundIssued | ChargebackOpened | DisputeClosed) -> str:
    """The payment a refund is counted against: the provider's payment reference."""
    return inp.payment_ref or inp.charge_id


def credit(tally: RefundTally | None, inp: RefundIssued) -> tuple[int, RefundTally, str | None]:
    """(amount this report adds, the tally after it, why it adds nothing).

    The tally changes even when nothing is added: the refund id is remembered
    and the operator request it answers stops counting as in flight.
    """
    currency = inp.amount.currency
    current = tally or RefundTally(currency)
    if current.currency != currency:
        raise RefundRefused(f"refund in {currency}, its payment's refunds in {current.currency}")
    if inp.refund_id is not None and inp.refund_id in current.refund_ids:
        return 0, _answered(current, inp), f"refund {inp.refund_id} credited already"
    if inp.refunded_total is not None:
        adds = inp.refunded_total.amount - current.credited
    else:
        adds = inp.amount.amount
    adds = max(0, adds)
    ids = current.refund_ids
    if inp.refund_id is not None:
        ids = (*ids, inp.refund_id)
    after = _answered(replace(current, credited=current.credited + adds, refund_ids=ids), inp)
    why = None if adds else f"the provider's refunded total {inp.refunded_total} is credited"
    return adds, after, why


def _answered(tally: RefundTally, inp: RefundIssued) -> RefundTally:
    """The operator request this report answers (by request id, or by refund id) is done."""
    for r in tally.requests:
        named = inp.request_id is not None and r.request_id == inp.request_id
        same_refund = inp.refund_id is not None and r.refund_id == inp.refund_id
        if (named or same_refund) and r.status in _IN_FLIGHT:
            done = replace(r, status=RequestStatus.CREDITED, refund_id=r.refund_id or inp.refund_id)
            return tally.with_request(done)
    return tally


def reserve(
    tally: RefundTally | None,
    paid: Money,
    request_id: str,
    *,
    amount: Money | None,
    reason: str,
    now: datetime,
) -> tuple[RefundTally, RefundRequest]:
    """Reserve an operator refund against what is left; the same request id is the same refund."""
    current = tally or RefundTally(paid.currency)
    if current.currency != paid.currency:
        raise RefundRefused(f"payment in {paid.currency}, its refunds are in {current.currency}")
    if not reason.strip():
        raise RefundRefused("a refund needs a reason")
    existing = current.request(request_id)
    if existing is not None:
        if amount is not None and amount.amount != existing.amount:
            raise RefundRefused(
                f"request {request_id} was a refund of {Money(existing.amount, paid.currency)}"
            )
        return current, existing
    if amount is not None and amount.amount <= 0:
        raise RefundRefused(f"a refund must be positive, got {amount}")
    left = current.left(paid)
    wanted = left if amount is None else amount
    if wanted.currency != paid.currency:
        raise RefundRefused(f"refund in {wanted.currency} of a payment in {paid.currency}")
    if wanted.amount <= 0:
        raise RefundRefused(f"nothing left to refund on this payment (paid {paid})")
    if wanted > left:
        raise RefundRefused(f"refund {wanted} exceeds what is left to refund, {left}")
    request = RefundRequest(request_id, wanted.amount, reason.strip(), RequestStatus.RESERVED, now)
    return current.with_request(request), request


def settle(tally: RefundTally, request_id: str, refund_id: str | None, ok: bool) -> RefundTally:
    """The gateway's answer to a reserved request: submitted (with its refund id) or released."""
    found = tally.request(request_id)
    if found is None or found.status is not RequestStatus.RESERVED:
        return tally
    status = RequestStatus.SUBMITTED if ok else RequestStatus.FAILED
    if ok and refund_id is not None and refund_id in tally.refund_ids:
        status = RequestStatus.CREDITED  # the provider's notification was quicker
    return tally.with_request(replace(found, status=status, refund_id=refund_id))
