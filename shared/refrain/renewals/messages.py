"""The `renewal-charges` message: one due timer of one subscription.

The tick computes the timer with the domain's ``due_timers`` from the document
its query returned, so the worker needs no read outside its transaction. The
input id is deterministic (subscription + deadline), so overlapping ticks and
redeliveries produce the same input, which the ledger applies once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from refrain.domain.inputs import GracePeriodOver, HoldOver, Input, RenewalDue, ResumeRequested

MESSAGE_TYPE: Final = "renewal.due"


class BadMessage(ValueError):
    """A message that can never be processed (acked and logged, never retried)."""


class TimerKind(StrEnum):
    RENEWAL_DUE = "renewal_due"
    GRACE_OVER = "grace_over"
    HOLD_OVER = "hold_over"
    AUTO_RESUME = "auto_resume"
    # Not a timer: an upgrade's proration charge, claimed by the care action, to be made
    # through the same charge-once path (input_id is the charge key).
    UPGRADE = "upgrade"


_KIND_OF: Final[dict[type[Input], TimerKind]] = {
    RenewalDue: TimerKind.RENEWAL_DUE,
    GracePeriodOver: TimerKind.GRACE_OVER,
    HoldOver: TimerKind.HOLD_OVER,
    ResumeRequested: TimerKind.AUTO_RESUME,
}
_INPUT_OF: Final[dict[TimerKind, type[Input]]] = {v: k for k, v in _KIND_OF.items()}


@dataclass(frozen=True, slots=True)
class ChargeMessage:
    subscription_id: str
    kind: TimerKind
    input_id: str

    @classmethod
    def for_timer(cls, subscription_id: str, timer: Input) -> ChargeMessage:
        return cls(subscription_id, _KIND_OF[type(timer)], timer.input_id)

    @classmethod
    def for_upgrade(cls, subscription_id: str, charge_key: str) -> ChargeMessage:
        """``charge_key``: ``{subscription}:upgrade:{version}``, the claimed charge's key."""
        return cls(subscription_id, TimerKind.UPGRADE, charge_key)

    def to_input(self, now: datetime) -> Input:
        """The timer input, stamped with the worker's clock (when it is really applied)."""
        return _INPUT_OF[self.kind](input_id=self.input_id, occurred_at=now)

    @property
    def dedupe_key(self) -> str:
        return f"timer:{self.input_id}"

    def encode(self) -> bytes:
        body = {"subscription_id": self.subscription_id, "kind": self.kind.value}
        return json.dumps(body | {"input_id": self.input_id}).encode()

    @property
    def attributes(self) -> dict[str, str]:
        return {"type": MESSAGE_TYPE, "kind": self.kind.value}

    @classmethod
    def decode(cls, data: bytes) -> ChargeMessage:
        try:
            body: Any = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadMessage(f"not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise BadMessage("not a JSON object")
        sid, kind, input_id = body.get("subscription_id"), body.get("kind"), body.get("input_id")
        if not (isinstance(sid, str) and sid):
            raise BadMessage("subscription_id must be a non-empty string")
        if kind not in {k.value for k in TimerKind}:
            raise BadMessage(f"unknown kind {kind!r}")
        if not (isinstance(input_id, str) and input_id.startswith(f"{sid}:{kind}:")):
            raise BadMessage("input_id must be '{subscription_id}:{kind}:{deadline or version}'")
        return cls(sid, TimerKind(kind), input_id)
