"""Ids the ingest model derives from provider ids keep distinct provider ids distinct."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from refrain.ingest.model import ProviderEvent, subscription_id_for

AT = datetime(2025, 1, 1, tzinfo=UTC)
PROVIDERS = st.sampled_from(["stripe", "adyen", "google_play", "apple"])


@given(provider=PROVIDERS, a=st.text(min_size=1), b=st.text(min_size=1))
def test_subscription_ids_of_distinct_provider_ids_differ(provider: str, a: str, b: str) -> None:
    if a != b:
        assert subscription_id_for(provider, a) != subscription_id_for(provider, b)


def test_the_characters_the_old_ids_replaced_are_kept() -> None:
    # "a/b", "a:b" and "a_b" used to be one subscription; storage encodes the id instead.
    ids = {subscription_id_for("stripe", raw) for raw in ("a/b", "a:b", "a_b")}
    assert ids == {"stripe_a/b", "stripe_a:b", "stripe_a_b"}
    keys = {
        ProviderEvent("adyen", raw, "AUTHORISATION", occurred_at=AT).dedupe_key
        for raw in ("P/1", "P_1")
    }
    assert keys == {"adyen:P/1", "adyen:P_1"}
