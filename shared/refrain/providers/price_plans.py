"""A merchant's own provider prices and references, mapped to catalog plans by configuration.

A business that already sells through Stripe or Adyen names its products its own
way: Stripe Prices (``price_…`` ids, or the ``lookup_key`` it gave them) and Adyen
merchant references built to a convention of its own. Refrain does not ask it to
re-tag anything; the operator says once which plan (and, where a price serves
one market only, which market) each of those names:

* ``STRIPE_PRICE_PLANS``: ``{"price_1Q…": "individual_monthly@SE",
  "family_yearly_eur": "family_yearly"}``; a key is a price id or a lookup key,
  a value a plan id, ``@MARKET`` when the price belongs to one market;
* ``ADYEN_REFERENCE_PATTERN``: a regular expression over the (HMAC-signed)
  ``merchantReference`` with named groups ``account``, ``plan`` and ``market``
  (``plan`` may also be a key of ``ADYEN_REFERENCE_PLANS``).

Unmapped names are not guessed: the notification is parked as unmatched for an
operator (see refrain.ingest.parking), never refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from refrain.domain.errors import InvalidInput


@dataclass(frozen=True)
class PlanName:
    """What a provider-side name maps to: a plan, and a market when the name fixes one."""

    plan: str
    market: str | None = None


def parse_plan_name(value: str) -> PlanName:
    """``"plan"`` or ``"plan@MARKET"``."""
    plan, at, market = value.partition("@")
    if not plan.strip() or (at and not market.strip()):
        raise InvalidInput(f"not a plan name: {value!r} (expected plan or plan@MARKET)")
    return PlanName(plan.strip(), market.strip().upper() or None)


@dataclass(frozen=True)
class PricePlans:
    """Provider price ids and lookup keys → plan names (pure; built from settings)."""

    names: Mapping[str, PlanName] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> PricePlans:
        return cls({str(key): parse_plan_name(str(value)) for key, value in config.items()})

    def lookup(self, *keys: object) -> PlanName | None:
        """The first key that is mapped (price id before lookup key)."""
        for key in keys:
            if isinstance(key, str) and key in self.names:
                return self.names[key]
        return None


_GROUPS = ("account", "plan", "market")


@dataclass(frozen=True)
class CheckoutReference:
    """What a merchant reference written to the merchant's convention says."""

    account_id: str
    plan: str
    market: str


@dataclass(frozen=True)
class ReferenceConvention:
    """The merchant's merchantReference convention (a regex with named groups)."""

    pattern: re.Pattern[str] | None = None
    plans: PricePlans = field(default_factory=PricePlans)

    @classmethod
    def from_config(cls, pattern: str | None, plans: Mapping[str, str]) -> ReferenceConvention:
        if not pattern:
            return cls(None, PricePlans.from_config(plans))
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            message = f"ADYEN_REFERENCE_PATTERN is not a regular expression: {exc}"
            raise InvalidInput(message) from exc
        missing = [g for g in _GROUPS if g not in compiled.groupindex]
        if missing:
            raise InvalidInput(f"ADYEN_REFERENCE_PATTERN lacks the named group(s) {missing}")
        return cls(compiled, PricePlans.from_config(plans))

    def read(self, reference: str) -> CheckoutReference | None:
        """The checkout a reference names, or None when it is not written to the convention."""
        if self.pattern is None:
            return None
        match = self.pattern.fullmatch(reference)
        if match is None:
            return None
        account, plan, market = (match.group(g) for g in _GROUPS)
        if not (account and plan and market):
            return None
        mapped = self.plans.lookup(plan)
        if mapped is not None:
            plan, market = mapped.plan, mapped.market or market
        return CheckoutReference(account, plan, market.upper())
