"""The sandbox gateway: the local default, deterministic, with test payment methods.

Test payment methods (``payment_method_ref``):

=================================  =============================================
``pm_sandbox_ok``                  succeeds
``pm_sandbox_insufficient_funds``  soft decline (insufficient funds), every time
``pm_sandbox_stolen``              hard decline (stolen card)
``pm_sandbox_timeout``             the first call per key charges, then times
                                   out (GatewayUnavailable); the retry with the
                                   same key gets the stored success, no 2nd charge
``pm_sandbox_recover_after_2``     soft-declines the first two attempts of each
                                   billing period, then succeeds
``pm_sandbox_processing``          pending: the provider confirms asynchronously
anything else / None               hard decline ``invalid_account``
=================================  =============================================

A provider's stored ref (``cus_…:pm_sandbox_ok``, ``shopper:pm_sandbox_ok``) is
read by its method part, the text after the last ``:``.

Like Stripe and Adyen it remembers idempotency keys: the same key returns the
stored result (``replayed=True``) and moves no money. It counts calls per key
and charges per (subscription, billing period), which the simulation checks.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from refrain.domain.declines import classify_stripe
from refrain.renewals.gateway import (
    ChargeStatus,
    GatewayCharge,
    GatewayResult,
    GatewayUnavailable,
    RefundAnswer,
    RefundCall,
    RefundStatus,
)

OK = "pm_sandbox_ok"
INSUFFICIENT_FUNDS = "pm_sandbox_insufficient_funds"
STOLEN = "pm_sandbox_stolen"
TIMEOUT = "pm_sandbox_timeout"
RECOVER_AFTER_2 = "pm_sandbox_recover_after_2"
PROCESSING = "pm_sandbox_processing"
TEST_PAYMENT_METHODS = (OK, INSUFFICIENT_FUNDS, STOLEN, TIMEOUT, RECOVER_AFTER_2, PROCESSING)


@dataclass
class SandboxGateway:
    name: str = "sandbox"
    calls: Counter[str] = field(default_factory=Counter)  # per idempotency key
    successes: Counter[tuple[str, datetime]] = field(default_factory=Counter)  # per period
    _results: dict[str, GatewayResult] = field(default_factory=dict)
    _attempts: Counter[tuple[str, datetime]] = field(default_factory=Counter)
    refunded: Counter[str] = field(default_factory=Counter)  # minor units per payment
    _refund_keys: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def charge(self, request: GatewayCharge) -> GatewayResult:
        with self._lock:
            key = request.charge_id
            self.calls[key] += 1
            stored = self._results.get(key)
            if stored is not None:
                return GatewayResult(stored.status, stored.provider_ref, stored.decline, True)
            period = (request.subscription_id, request.billing_anchor)
            self._attempts[period] += 1
            result = self._decide(request, self._attempts[period])
            self._results[key] = result
            if result.status is ChargeStatus.SUCCEEDED:
                self.successes[period] += 1
            if _method(request.payment_method_ref) == TIMEOUT:
                raise GatewayUnavailable("sandbox: charged, but the answer timed out")
            return result

    def refund(self, call: RefundCall) -> RefundAnswer:
        """Refunded at once. Its id comes from the key (unique across processes); no total,
        since a sandbox per process cannot know what another one refunded."""
        with self._lock:
            if call.idempotency_key not in self._refund_keys:
                self._refund_keys.add(call.idempotency_key)
                self.refunded[call.payment_ref] += call.amount.amount
            return RefundAnswer(f"sbx_{call.idempotency_key}", RefundStatus.SUCCEEDED)

    @property
    def charges(self) -> int:
        """Money movements (one per successful key), whatever the number of calls."""
        return sum(self.successes.values())

    def _decide(self, request: GatewayCharge, attempt_in_period: int) -> GatewayResult:
        ref = f"sbx_{len(self._results) + 1}"
        pm = _method(request.payment_method_ref)
        if pm in (OK, TIMEOUT) or (pm == RECOVER_AFTER_2 and attempt_in_period > 2):
            return GatewayResult(ChargeStatus.SUCCEEDED, ref)
        if pm in (INSUFFICIENT_FUNDS, RECOVER_AFTER_2):
            decline = classify_stripe("card_declined", "insufficient_funds")
            return GatewayResult(ChargeStatus.DECLINED, ref, decline)
        if pm == STOLEN:
            return GatewayResult(ChargeStatus.DECLINED, ref, classify_stripe("stolen_card"))
        if pm == PROCESSING:
            return GatewayResult(ChargeStatus.PENDING, ref)
        return GatewayResult(ChargeStatus.DECLINED, ref, classify_stripe("invalid_account"))


def _method(ref: str | None) -> str | None:
    return ref.rpartition(":")[2] if ref else None
