"""The Prices a Checkout Session sold, through the real `stripe` library, on the simulated API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from refrain.adapters.stripe_checkout_prices import StripeCheckoutPrices, StripeUnavailable
from refrain.domain.money import Money
from refrain.ingest.model import MappingError
from refrain_tools.simulator import GatewaySimulator
from refrain_tools.simulator.stripe_checkout import line_item, stripe_price

AT = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[GatewaySimulator]:
    with GatewaySimulator() as server:
        yield server


def test_the_prices_of_a_session_are_read_from_its_line_items(sim: GatewaySimulator) -> None:
    sold = [
        stripe_price("price_a", Money(13900, "SEK"), at=AT, lookup_key="se-monthly"),
        stripe_price("price_b", Money(100, "SEK"), at=AT),
    ]
    sim.save_line_items("cs_test_1", [line_item(p, "thing") for p in sold])
    prices = StripeCheckoutPrices.create("sk_test_sim", sim.url)("cs_test_1")
    assert [(p["id"], p["lookup_key"], p["unit_amount"]) for p in prices] == [
        ("price_a", "se-monthly", 13900),
        ("price_b", None, 100),
    ]


def test_a_session_stripe_does_not_know_cannot_be_mapped(sim: GatewaySimulator) -> None:
    with pytest.raises(MappingError, match="resource_missing"):
        StripeCheckoutPrices.create("sk_test_sim", sim.url)("cs_test_unknown")


def test_stripe_out_of_reach_is_an_outage_not_a_mapping(sim: GatewaySimulator) -> None:
    url = sim.url
    sim.stop()
    with pytest.raises(StripeUnavailable):
        StripeCheckoutPrices.create("sk_test_sim", url, timeout_s=2)("cs_test_1")
