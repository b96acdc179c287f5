"""Assignment against GrowthBook's published cases, and stickiness across versions."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refrain.experiments.assignment import (
    Sticky,
    assign,
    bucket_ranges,
    choose_variation,
    equal_weights,
    hash_unit,
)
from tests.support import FIXTURES

pytestmark = pytest.mark.unit
CASES: dict[str, Any] = json.loads((FIXTURES / "growthbook" / "cases.json").read_text("utf-8"))


@pytest.mark.parametrize(("seed", "unit", "version", "expected"), CASES["hash"])
def test_hash_matches_growthbook(seed: str, unit: str, version: int, expected: float) -> None:
    assert hash_unit(seed, unit, version) == expected


@pytest.mark.parametrize(("name", "args", "expected"), CASES["getBucketRange"])
def test_bucket_ranges_match_growthbook(name: str, args: list[Any], expected: list[Any]) -> None:
    got = bucket_ranges(*args)
    assert [(round(a, 6), round(b, 6)) for a, b in got] == [tuple(r) for r in expected], name


@pytest.mark.parametrize(("name", "point", "ranges", "expected"), CASES["chooseVariation"])
def test_choose_variation_matches_growthbook(
    name: str, point: float, ranges: list[list[float]], expected: int
) -> None:
    assert choose_variation(point, [tuple(r) for r in ranges]) == expected, name  # type: ignore[misc]


@pytest.mark.parametrize(("count", "expected"), CASES["getEqualWeights"])
def test_equal_weights_match_growthbook(count: int, expected: list[float]) -> None:
    assert [round(w, 8) for w in equal_weights(count)] == expected


def _assign(unit: str, weights: list[float], version: int, sticky: Sticky | None = None) -> Any:
    return assign(key="dunning", seed="dunning-2027", unit=unit, variants=["fixed", "smart"],
                  weights=weights, coverage=1.0, version=version, sticky=sticky)  # fmt: skip


@settings(max_examples=200)
@given(unit=st.text(min_size=1, max_size=40))
def test_the_same_unit_always_gets_the_same_variant(unit: str) -> None:
    first = _assign(unit, [0.5, 0.5], 1)
    assert first.variant in ("fixed", "smart") and _assign(unit, [0.5, 0.5], 1) == first


def test_a_weight_change_keeps_every_assigned_unit_and_moves_only_new_ones() -> None:
    units = [f"sk_{i}" for i in range(2000)]
    before = {u: _assign(u, [0.5, 0.5], 1) for u in units}
    after = {
        u: _assign(u, [0.2, 0.8], 2, Sticky(before[u].variant, 1)) for u in units
    }  # fmt: skip
    assert all(after[u].variant == before[u].variant and after[u].sticky for u in units)
    fresh = Counter(_assign(f"new_{i}", [0.2, 0.8], 2).variant for i in range(4000))
    assert 0.17 < fresh["fixed"] / 4000 < 0.23  # new units follow the new weights


def test_the_split_is_even_and_a_removed_variant_is_not_kept() -> None:
    split = Counter(_assign(f"u{i}", [0.5, 0.5], 1).variant for i in range(10_000))
    assert 0.48 < split["smart"] / 10_000 < 0.52
    gone = assign(key="k", seed="s", unit="u1", variants=["a", "b"], weights=[0.5, 0.5],
                  coverage=1.0, version=3, sticky=Sticky("removed", 1))  # fmt: skip
    assert gone.variant in ("a", "b") and not gone.sticky
