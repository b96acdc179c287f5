"""Plans, markets and the legal entities that invoice them.

The catalog is data (``refrain/data/catalog.json``) validated into frozen
pydantic models at load time, so a typo in a price or a market pointing at a
missing legal entity fails on start-up, not on a customer's invoice. The
state machine never reads the catalog: callers resolve an :class:`Offer`
here and pass plain values (plan id, rank, price, trial days) into inputs.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Self

from babel import Locale, UnknownLocaleError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from refrain.domain.currencies import validate_currency
from refrain.domain.errors import (
    CatalogError,
    PlanNotOffered,
    TaxUnknown,
    UnknownMarket,
    UnknownPlan,
)
from refrain.domain.money import Money
from refrain.domain.plan_change import ChangeDirection, change_direction
from refrain.domain.tax import TaxBreakdown, TaxMode, tax_for_price

__all__ = [
    "Catalog",
    "ChangeDirection",
    "Interval",
    "LegalEntity",
    "Market",
    "Offer",
    "Plan",
    "change_direction",
    "load_catalog",
]

Code = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
"""Money in the catalog is int minor units; StrictInt refuses 11.99 or 25.0 outright."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Interval(StrEnum):
    MONTH = "month"
    YEAR = "year"

    @property
    def months(self) -> int:
        return 1 if self is Interval.MONTH else 12


class Plan(_Frozen):
    """A sellable plan. ``rank`` orders plans for upgrade/downgrade decisions."""

    id: Identifier
    tier: Literal["student", "individual", "duo", "family"]
    name: str
    interval: Interval
    rank: StrictInt = Field(ge=0)
    max_members: StrictInt = Field(ge=1)
    trial_eligible: bool


class LegalEntity(_Frozen):
    id: Identifier
    legal_name: str = Field(min_length=1)
    address_lines: tuple[str, ...] = Field(min_length=1)
    country: Code
    vat_id: str | None
    invoice_series: tuple[str, ...] = Field(min_length=1)


class Market(_Frozen):
    code: Code
    name: str
    currency: str
    default_locale: str
    tax_mode: TaxMode
    tax_rate_bp: StrictInt = Field(ge=0, le=10_000)
    tax_label: str
    tax_registration: str | None = None
    # "catalog": one rate for the market (tax_rate_bp). "address": the rate depends on the
    # customer's address (US states, Canadian provinces); the payment provider computes it
    # at checkout (Stripe Tax) and a charge without it is refused, never guessed.
    tax_source: Literal["catalog", "address"] = "catalog"
    legal_entity: Identifier
    invoice_series: str = Field(min_length=1)
    trial_days: StrictInt = Field(ge=0, le=365)
    prices: dict[Identifier, StrictInt]  # price version 1; later versions: refrain.pricing
    # Days of notice a subscriber gets before their first renewal at a new price, and
    # whether that renewal needs their consent (without it the subscription ends instead).
    price_notice_days: StrictInt = Field(default=30, ge=0, le=365)
    price_consent_required: bool = False
    notes: str | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return validate_currency(value)

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError) as exc:
            raise ValueError(f"unknown locale {value!r}") from exc
        return value

    @field_validator("prices")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {plan: amount for plan, amount in value.items() if amount <= 0}
        if bad:
            raise ValueError(f"prices must be positive minor units: {bad}")
        return value


class Offer(_Frozen):
    """Everything checkout needs for one plan in one market."""

    plan: Plan
    market: Market
    price: Money
    trial_days: int
    legal_entity: LegalEntity

    def tax(self) -> TaxBreakdown:
        return tax_for_price(self.price, self.market.tax_rate_bp, self.market.tax_mode)

    def tax_on_top(self) -> Money | None:
        """The tax a checkout adds on top from the catalog's rate; None where prices include
        it. Refuses where the tax depends on the address (only the provider knows it)."""
        if self.market.tax_mode is TaxMode.INCLUSIVE:
            return None
        if self.market.tax_source == "address":
            raise TaxUnknown(f"tax in {self.market.code} depends on the customer's address")
        return self.tax().tax


class Catalog(_Frozen):
    schema_version: Literal[1]
    notes: str | None = None
    plans: dict[Identifier, Plan]
    legal_entities: dict[Identifier, LegalEntity]
    markets: dict[Code, Market]

    @model_validator(mode="before")
    @classmethod
    def _inject_ids(cls, data: object) -> object:
        """Keys in the file double as ids; copy them into the models."""
        if isinstance(data, dict):
            data = dict(data)
            for section, key in (("plans", "id"), ("legal_entities", "id"), ("markets", "code")):
                items = data.get(section)
                if isinstance(items, dict):
                    data[section] = {
                        name: {key: name, **body} if isinstance(body, dict) else body
                        for name, body in items.items()
                    }
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ranks = [plan.rank for plan in self.plans.values()]
        if len(set(ranks)) != len(ranks):
            raise ValueError("plan ranks must be unique so every change is an upgrade or downgrade")
        for market in self.markets.values():
            entity = self.legal_entities.get(market.legal_entity)
            if entity is None:
                raise ValueError(
                    f"market {market.code}: unknown legal entity {market.legal_entity}"
                )
            if market.invoice_series not in entity.invoice_series:
                raise ValueError(
                    f"market {market.code}: series {market.invoice_series!r} "
                    f"is not one of {entity.id}'s series"
                )
            unknown = set(market.prices) - set(self.plans)
            if unknown:
                raise ValueError(
                    f"market {market.code}: prices for unknown plans {sorted(unknown)}"
                )
        return self

    # lookups ------------------------------------------------------------
    def plan(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            raise UnknownPlan(plan_id) from None

    def market(self, code: str) -> Market:
        try:
            return self.markets[code.upper() if isinstance(code, str) else code]
        except (KeyError, AttributeError):
            raise UnknownMarket(str(code)) from None

    def legal_entity_for(self, market_code: str) -> LegalEntity:
        return self.legal_entities[self.market(market_code).legal_entity]

    def price(self, plan_id: str, market_code: str) -> Money:
        market = self.market(market_code)
        self.plan(plan_id)
        amount = market.prices.get(plan_id)
        if amount is None:
            raise PlanNotOffered(plan_id, market.code)
        return Money(amount, market.currency)

    def offer(self, plan_id: str, market_code: str) -> Offer:
        plan = self.plan(plan_id)
        market = self.market(market_code)
        return Offer(
            plan=plan,
            market=market,
            price=self.price(plan_id, market.code),
            trial_days=market.trial_days if plan.trial_eligible else 0,
            legal_entity=self.legal_entities[market.legal_entity],
        )


def parse_catalog(data: object) -> Catalog:
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"invalid catalog: {exc}") from exc


@lru_cache(maxsize=4)
def _load_cached(path: str | None) -> Catalog:
    if path is None:
        text = resources.files("refrain").joinpath("data", "catalog.json").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    return parse_catalog(json.loads(text))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The shipped catalog (cached), or one from ``path`` for tests and tooling."""
    return _load_cached(None if path is None else str(path))
