"""What Stripe Tax computes at checkout where the tax depends on the address (simulated).

Rates per (country, state/province) in parts per 100,000, so that 8.875 % (New York City)
is exact: the combined rate a digital subscription pays there (state + local; GST + PST or
HST). Illustrative figures, in the spirit of the published rates; Stripe's own come from
its tax engine. Markets whose prices include the tax get no tax on top (None).
"""

from __future__ import annotations

from typing import Final

from refrain.domain.catalog import Catalog, load_catalog
from refrain.domain.money import Money, div_round_half_up
from refrain.domain.tax import TaxMode

RATES_PER_100K: Final[dict[tuple[str, str], int]] = {
    ("US", "NY"): 8_875,  # New York City: 4 % state + 4.5 % city + 0.375 % MCTD
    ("US", "TX"): 8_250,
    ("US", "WA"): 10_350,
    ("US", "CA"): 0,  # California does not tax streamed music
    ("CA", "ON"): 13_000,  # HST
    ("CA", "QC"): 14_975,  # GST 5 % + QST 9.975 %
    ("CA", "AB"): 5_000,  # GST only
    ("CA", "BC"): 12_000,  # GST 5 % + PST 7 %
}
DEFAULT_STATE: Final = {"US": "NY", "CA": "ON"}


def stripe_tax(
    market: str, amount: Money, state: str | None = None, catalog: Catalog | None = None
) -> Money | None:
    """The tax on top of ``amount`` for a customer in ``state`` (None: prices include it)."""
    found = (catalog or load_catalog()).market(market)
    if found.tax_mode is TaxMode.INCLUSIVE:
        return None
    if found.tax_source != "address":
        return Money(div_round_half_up(amount.amount * found.tax_rate_bp, 10_000), amount.currency)
    where = (market, state or DEFAULT_STATE.get(market, ""))
    rate = RATES_PER_100K.get(where)
    if rate is None:
        raise ValueError(f"no simulated tax rate for {where}")
    return Money(div_round_half_up(amount.amount * rate, 100_000), amount.currency)
