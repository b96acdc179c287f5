"""The operator's map from a business's own prices and references to catalog plans."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.domain.errors import InvalidInput
from refrain.ingest.routes import WebhookSettings, adyen_route, stripe_route
from refrain.providers.price_plans import (
    PlanName,
    PricePlans,
    ReferenceConvention,
    parse_plan_name,
)

PLAN = st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True)
MARKET = st.from_regex(r"[A-Z]{2}", fullmatch=True)


@given(PLAN, st.none() | MARKET)
def test_a_plan_name_reads_back_what_was_written(plan: str, market: str | None) -> None:
    written = plan if market is None else f"{plan}@{market}"
    assert parse_plan_name(written) == PlanName(plan, market)


@pytest.mark.parametrize("bad", ["", "@SE", "plan@", "  @  "])
def test_an_unreadable_plan_name_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="plan@MARKET"):
        parse_plan_name(bad)


def test_the_price_id_is_looked_up_before_the_lookup_key() -> None:
    prices = PricePlans.from_config({"price_1": "a@SE", "key": "b"})
    assert prices.lookup("price_1", "key") == PlanName("a", "SE")
    assert prices.lookup("price_2", "key") == PlanName("b", None)
    assert prices.lookup("price_2", None, 7) is None


@pytest.mark.parametrize(
    ("pattern", "error"),
    [("(unclosed", "not a regular expression"), ("(?P<account>.+)/(?P<plan>.+)", "market")],
)
def test_a_convention_that_cannot_name_a_checkout_is_refused(pattern: str, error: str) -> None:
    with pytest.raises(InvalidInput, match=error):
        ReferenceConvention.from_config(pattern, {})


@given(st.text(max_size=60))
def test_a_convention_reads_only_whole_references(reference: str) -> None:
    convention = ReferenceConvention.from_config(
        r"(?P<account>[^/]+)/(?P<plan>[a-z_]+)/(?P<market>[A-Z]{2})", {}
    )
    read = convention.read(reference)
    whole = re.fullmatch(r"[^/]+/[a-z_]+/[A-Z]{2}", reference)
    assert (read is None) == (whole is None)
    if read is not None:
        assert reference == f"{read.account_id}/{read.plan}/{read.market}"


def test_without_a_convention_nothing_is_read() -> None:
    assert ReferenceConvention().read("acct/individual_monthly/SE") is None


def test_a_bad_price_map_or_convention_stops_the_function_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_PRICE_PLANS", '{"price_1": "@SE"}')
    with pytest.raises(InvalidInput, match="@SE"):
        stripe_route(WebhookSettings())
    monkeypatch.setenv("ADYEN_REFERENCE_PATTERN", "(?P<plan>.+)")
    with pytest.raises(InvalidInput, match="account"):
        adyen_route(WebhookSettings())


def test_an_adyen_key_without_basic_authentication_stops_the_function_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Adyen's HMAC leaves additionalData unsigned: basic auth is what guards it."""
    monkeypatch.setenv("ADYEN_HMAC_KEY", "44782DEF547AAA06C910C43932B1EB0C")
    for missing in ("ADYEN_BASIC_AUTH_USER", "ADYEN_BASIC_AUTH_PASSWORD"):
        monkeypatch.setenv("ADYEN_BASIC_AUTH_USER", "refrain")
        monkeypatch.setenv("ADYEN_BASIC_AUTH_PASSWORD", "pw")  # pragma: allowlist secret
        monkeypatch.delenv(missing)
        with pytest.raises(ValueError, match="ADYEN_BASIC_AUTH_USER and ADYEN_BASIC_AUTH_PASSWORD"):
            adyen_route(WebhookSettings())
