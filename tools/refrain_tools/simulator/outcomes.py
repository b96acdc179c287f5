"""What the simulated gateway does with a stored payment method: the test-card table.

The same names work for both providers. A Stripe payment method id and an
Adyen ``storedPaymentMethodId`` are matched case-insensitively by prefix,
after dropping a leading ``pm_``; anything after the name is free (so
``pm_ok_0042`` and ``OK_7F3K`` both succeed):

=====================  ==========================================================
``ok``                 authorised
``insufficient_funds`` soft decline every time (Stripe card_declined /
                       insufficient_funds; Adyen "Not enough balance", 12)
``stolen``             hard decline (Stripe stolen_card; Adyen "Blocked Card", 5)
``expired``            hard decline (Stripe expired_card; Adyen "Expired Card", 6)
``flaky_<n>``          the first n new charges of each subscription soft-decline
                       (insufficient funds), later ones succeed: dunning recovers
``timeout``            authorised, but the first answer per idempotency key comes
                       only after the server's ``slow_answer_s`` (past the
                       client's timeout); the retry with the same key gets the
                       stored success and moves no money
anything else          unknown method: Stripe 400 resource_missing, Adyen 422 800
=====================  ==========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    AUTHORISED = "authorised"
    DECLINED = "declined"
    UNKNOWN_METHOD = "unknown_method"


@dataclass(frozen=True, slots=True)
class Refusal:
    stripe_code: str
    stripe_decline_code: str | None
    message: str
    adyen_reason: str
    adyen_code: str


INSUFFICIENT_FUNDS = Refusal(
    "card_declined",
    "insufficient_funds",
    "Your card has insufficient funds.",
    "Not enough balance",
    "12",
)
STOLEN = Refusal("card_declined", "stolen_card", "Your card was declined.", "Blocked Card", "5")
EXPIRED = Refusal("expired_card", "expired_card", "Your card has expired.", "Expired Card", "6")


@dataclass(frozen=True, slots=True)
class Decision:
    kind: Kind
    refusal: Refusal | None = None
    slow: bool = False  # answer after the client gave up (the charge still happens)


_FLAKY = re.compile(r"flaky_(\d+)")


def method_name(method: str) -> str:
    """The table name part of a payment method id or token."""
    name = method.strip().lower()
    return name[3:] if name.startswith("pm_") else name


def decide(method: str, earlier_charges_of_subscription: int) -> Decision:
    """The outcome of a new charge (not a replay) on ``method``.

    ``earlier_charges_of_subscription``: new charges the gateway already processed
    for this subscription with this method (what ``flaky_<n>`` counts).
    """
    name = method_name(method)
    if name.startswith("ok"):
        return Decision(Kind.AUTHORISED)
    if name.startswith("timeout"):
        return Decision(Kind.AUTHORISED, slow=True)
    if name.startswith("insufficient_funds"):
        return Decision(Kind.DECLINED, INSUFFICIENT_FUNDS)
    if name.startswith("stolen"):
        return Decision(Kind.DECLINED, STOLEN)
    if name.startswith("expired"):
        return Decision(Kind.DECLINED, EXPIRED)
    flaky = _FLAKY.match(name)
    if flaky:
        if earlier_charges_of_subscription < int(flaky.group(1)):
            return Decision(Kind.DECLINED, INSUFFICIENT_FUNDS)
        return Decision(Kind.AUTHORISED)
    return Decision(Kind.UNKNOWN_METHOD)
