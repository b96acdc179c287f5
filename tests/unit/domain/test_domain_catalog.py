"""The shipped catalog: markets, prices, entities, lookups and validation."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from refrain.domain.catalog import (
    ChangeDirection,
    Interval,
    change_direction,
    load_catalog,
    parse_catalog,
)
from refrain.domain.currencies import minor_digits
from refrain.domain.errors import CatalogError, PlanNotOffered, UnknownMarket, UnknownPlan
from refrain.domain.money import Money, format_money
from refrain.domain.provider_amounts import to_provider_amount
from refrain.domain.tax import TaxMode

pytestmark = pytest.mark.unit

REQUIRED_MARKETS = {"SE", "GB", "US", "DE", "FR", "JP", "KR", "IN", "BR", "MX", "KW", "CH"}


def _raw() -> dict[str, Any]:
    text = resources.files("refrain").joinpath("data", "catalog.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_required_markets_and_plans_are_present() -> None:
    catalog = load_catalog()
    assert set(catalog.markets) >= REQUIRED_MARKETS
    tiers = {(p.tier, p.interval) for p in catalog.plans.values()}
    for tier in ("individual", "duo", "family", "student"):
        assert (tier, Interval.MONTH) in tiers
        assert (tier, Interval.YEAR) in tiers


def test_market_currencies_and_tax_modes() -> None:
    catalog = load_catalog()
    expected = {"SE": "SEK", "JP": "JPY", "KR": "KRW", "KW": "KWD", "CH": "CHF", "IN": "INR"}
    for code, currency in expected.items():
        assert catalog.market(code).currency == currency
    assert catalog.market("US").tax_mode is TaxMode.EXCLUSIVE
    assert catalog.market("DE").tax_mode is TaxMode.INCLUSIVE
    assert catalog.market("DE").tax_rate_bp == 1900
    assert catalog.market("CH").tax_rate_bp == 810


def test_prices_are_money_in_local_currency() -> None:
    catalog = load_catalog()
    assert catalog.price("individual_monthly", "JP") == Money(1080, "JPY")
    assert format_money(catalog.price("individual_monthly", "JP"), "en_US") == "¥1,080"
    kw = catalog.price("individual_monthly", "KW")
    assert kw.currency == "KWD" and minor_digits("KWD") == 3
    assert format_money(kw, "en") == "KWD1.590"


def test_every_price_is_chargeable_through_stripe() -> None:
    """A catalog price Stripe cannot carry (e.g. KWD not ending in 0) must never ship."""
    catalog = load_catalog()
    for market in catalog.markets.values():
        for plan_id in market.prices:
            to_provider_amount(catalog.price(plan_id, market.code), "stripe")


def test_every_market_has_an_invoicing_entity_with_its_series() -> None:
    catalog = load_catalog()
    for market in catalog.markets.values():
        entity = catalog.legal_entity_for(market.code)
        assert entity.legal_name and entity.address_lines
        assert market.invoice_series in entity.invoice_series


def test_unknown_plan_and_market_errors_name_the_code() -> None:
    catalog = load_catalog()
    with pytest.raises(UnknownPlan, match="'platinum_monthly'"):
        catalog.plan("platinum_monthly")
    with pytest.raises(UnknownMarket, match="'ZZ'"):
        catalog.market("ZZ")
    with pytest.raises(UnknownMarket, match="'XX'"):
        catalog.offer("individual_monthly", "XX")
    with pytest.raises(UnknownPlan):
        catalog.price("gold", "SE")
    with pytest.raises(PlanNotOffered, match=r"student_monthly.*KW"):
        catalog.offer("student_monthly", "KW")


def test_market_lookup_is_case_insensitive() -> None:
    assert load_catalog().market("se").code == "SE"


def test_offer_trial_days_follow_plan_eligibility() -> None:
    catalog = load_catalog()
    assert catalog.offer("individual_monthly", "SE").trial_days == 30
    assert catalog.offer("individual_yearly", "SE").trial_days == 0
    assert catalog.offer("student_monthly", "SE").trial_days == 0
    assert catalog.offer("individual_monthly", "KW").trial_days == 7


@pytest.mark.parametrize(
    ("old", "new", "direction"),
    [
        ("individual_monthly", "family_monthly", ChangeDirection.UPGRADE),
        ("family_monthly", "duo_monthly", ChangeDirection.DOWNGRADE),
        ("individual_monthly", "individual_yearly", ChangeDirection.UPGRADE),
        ("individual_yearly", "individual_monthly", ChangeDirection.DOWNGRADE),
        ("student_monthly", "individual_monthly", ChangeDirection.UPGRADE),
    ],
)
def test_plan_change_classification(old: str, new: str, direction: ChangeDirection) -> None:
    catalog = load_catalog()
    assert change_direction(catalog.plan(old).rank, catalog.plan(new).rank) is direction


def test_a_change_to_the_same_rank_is_refused() -> None:
    rank = load_catalog().plan("duo_monthly").rank
    with pytest.raises(ValueError, match="another rank"):
        change_direction(rank, rank)


# validation of broken catalog files -----------------------------------------


def _broken(mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(_raw())
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda d: d["markets"]["SE"].update(currency="SEKK"), "currency"),
        (lambda d: d["markets"]["SE"].update(legal_entity="nobody"), "legal entity"),
        (lambda d: d["markets"]["SE"].update(invoice_series="ZZ"), "series"),
        (lambda d: d["markets"]["SE"]["prices"].update(platinum_monthly=100), "unknown plans"),
        (lambda d: d["markets"]["SE"]["prices"].update(individual_monthly=-1), "positive"),
        (lambda d: d["markets"]["SE"].update(colour="blue"), "colour"),
        (lambda d: d["markets"]["SE"].update(default_locale="xx_YY"), "locale"),
        (lambda d: d["markets"]["SE"].update(tax_rate_bp=25.0), "tax_rate_bp"),
        (lambda d: d["plans"]["duo_monthly"].update(rank=20), "ranks"),
    ],
)
def test_invalid_catalog_is_rejected(mutation: Any, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(_broken(mutation))


def test_models_are_frozen() -> None:
    market = load_catalog().market("SE")
    with pytest.raises(ValueError):
        market.tax_rate_bp = 0  # type: ignore[misc]


def test_load_from_explicit_path(tmp_path: Path) -> None:
    data = _raw()
    data["markets"] = {"SE": data["markets"]["SE"]}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data), "utf-8")
    catalog = load_catalog(path)
    assert set(catalog.markets) == {"SE"}
