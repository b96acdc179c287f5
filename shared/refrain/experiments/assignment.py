"""Deterministic assignment, the way GrowthBook's SDKs do it, so any of them can check ours.

A unit (a pseudonymous subscriber key) falls at a point in [0, 1) given by hashing it
with the experiment's seed (GrowthBook's hash, version 2:
``fnv1a32(str(fnv1a32(seed + unit))) % 10000 / 10000``). The variants own consecutive
ranges of [0, 1) by weight, each shortened by the coverage; a point in no range is not
in the experiment. The same seed, unit and ranges always give the same variant.

Sticky: a unit keeps the variant it was first given for as long as the experiment
runs. Changing the weights of a running experiment is a new version; units assigned
under an earlier version keep their variant (their sticky record), new units are
assigned with the new weights. ``tests/fixtures/growthbook/cases.json`` holds
GrowthBook's published cases these functions are tested against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_WEIGHT_TOLERANCE = 0.01

Range = tuple[float, float]


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a over the string's UTF-16 code units (as GrowthBook's SDKs hash)."""
    value = _FNV_OFFSET
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        value ^= data[i] | data[i + 1] << 8
        value = (value * _FNV_PRIME) & 0xFFFFFFFF
    return value


def hash_unit(seed: str, unit: str, version: int = 2) -> float | None:
    """The unit's point in [0, 1); None for a hash version GrowthBook does not define."""
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + unit))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(unit + seed) % 1000) / 1000
    return None


def equal_weights(count: int) -> list[float]:
    return [1 / count] * count if count > 0 else []


def bucket_ranges(
    count: int, coverage: float, weights: Sequence[float] | None = None
) -> list[Range]:
    """One range per variant: starts at the cumulative weight, spans weight times coverage.

    Coverage is clamped to [0, 1]; weights that are missing, of the wrong length or not
    summing to 1 (within 0.01) are replaced by equal weights.
    """
    coverage = min(1.0, max(0.0, coverage))
    chosen = list(weights) if weights is not None else equal_weights(count)
    if len(chosen) != count or abs(sum(chosen) - 1) > _WEIGHT_TOLERANCE:
        chosen = equal_weights(count)
    ranges: list[Range] = []
    start = 0.0
    for weight in chosen:
        ranges.append((start, start + coverage * weight))
        start += weight
    return ranges


def choose_variation(point: float, ranges: Sequence[Range]) -> int:
    """The index of the range holding ``point`` (start inclusive, end exclusive), else -1."""
    for index, (start, end) in enumerate(ranges):
        if start <= point < end:
            return index
    return -1


@dataclass(frozen=True, slots=True)
class Sticky:
    """A unit's recorded assignment: the variant, and the version it was made under."""

    variant: str
    version: int


@dataclass(frozen=True, slots=True)
class Assignment:
    experiment: str
    unit: str
    variant: str | None  # None: not in the experiment (outside coverage)
    version: int
    point: float
    sticky: bool  # kept from an earlier assignment


def assign(
    *,
    key: str,
    seed: str,
    unit: str,
    variants: Sequence[str],
    weights: Sequence[float],
    coverage: float,
    version: int,
    sticky: Sticky | None = None,
) -> Assignment:
    """The unit's variant: its sticky one if it has one still offered, else by hash."""
    point = hash_unit(seed, unit)
    assert point is not None
    if sticky is not None and sticky.variant in variants:
        return Assignment(key, unit, sticky.variant, sticky.version, point, sticky=True)
    index = choose_variation(point, bucket_ranges(len(variants), coverage, weights))
    variant = variants[index] if index >= 0 else None
    return Assignment(key, unit, variant, version, point, sticky=False)
