"""Exceptions raised by the domain core.

Names follow the payments vocabulary (``UnknownPlan``, ``CurrencyMismatch``)
rather than an ``...Error`` suffix, hence the N818 waivers.

Business-level refusals inside the subscription state machine are *not*
exceptions (they come back as an ``Outcome`` with kind ``illegal``); these
classes are for programming errors and bad data at the edges: mixing
currencies, unknown catalog codes, naive datetimes, unparseable events.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class so adapters can catch every domain refusal in one place."""


class InvalidMoney(DomainError, ValueError):
    """An amount or currency that cannot be represented exactly."""


class UnknownCurrency(InvalidMoney):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown ISO 4217 currency code: {code!r}")
        self.code = code


class CurrencyMismatch(DomainError, TypeError):
    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"cannot combine amounts in {left} and {right}")
        self.left = left
        self.right = right


class ProviderAmountError(InvalidMoney):
    """An amount that the provider's amount field cannot carry exactly."""


class CatalogError(DomainError):
    """The catalog data file is inconsistent."""


class UnknownPlan(DomainError, LookupError):
    def __init__(self, plan_id: str) -> None:
        super().__init__(f"unknown plan: {plan_id!r}")
        self.plan_id = plan_id


class UnknownMarket(DomainError, LookupError):
    def __init__(self, market: str) -> None:
        super().__init__(f"unknown market: {market!r}")
        self.market = market


class PlanNotOffered(DomainError, LookupError):
    def __init__(self, plan_id: str, market: str) -> None:
        super().__init__(f"plan {plan_id!r} is not offered in market {market!r}")
        self.plan_id = plan_id
        self.market = market


class NaiveDatetime(DomainError, ValueError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} must be a timezone-aware datetime (UTC), got a naive one")


class InvalidInput(DomainError, ValueError):
    """A state-machine input that is malformed (not merely illegal in the current state)."""


class EventParseError(DomainError, ValueError):
    """A Pub/Sub message that is not a valid domain event of a known type and version."""


class TaxUnknown(DomainError):
    """A charge whose tax is not known (address-based tax the provider did not compute)."""
