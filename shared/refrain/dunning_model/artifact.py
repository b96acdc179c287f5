"""The dunning model's artifact: a versioned JSON file, validated, then scored in pure Python.

Format (``format = "refrain.dunning_model"``, ``format_version = 1``): gradient-boosted
regression trees on the logit scale, exported node by node from scikit-learn's
``HistGradientBoostingClassifier`` (``refrain_tools.models.export``):

```json
{"format": "refrain.dunning_model", "format_version": 1, "model": "dunning",
 "version": 3, "features": ["attempt", ..., "category=insufficient_funds", ...],
 "baseline": -1.93,
 "trees": [{"feature": [2, -1, -1], "threshold": [9.5, 0, 0], "missing_left": [1, 0, 0],
            "left": [1, 0, 0], "right": [2, 0, 0], "value": [0, -0.1, 0.2]}]}
```

Node ``i`` of a tree is a leaf when ``feature[i] == -1`` (its ``value`` is added to the
logit); otherwise ``x[feature] <= threshold`` goes ``left``, a greater value ``right``,
a missing (NaN) value left when ``missing_left``. The score is ``1 / (1 + exp(-logit))``,
the logit being the baseline plus one leaf per tree, summed in tree order: the same
arithmetic as scikit-learn's ``predict_proba``. Children always come after their parent,
which validation checks, so scoring cannot loop on a corrupt file.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from refrain.dunning_model.features import AttemptContext, encode

__all__ = ["FORMAT", "FORMAT_VERSION", "ArtifactError", "DunningModel", "load_model"]

FORMAT: Final = "refrain.dunning_model"
FORMAT_VERSION: Final = 1
_NODE_FIELDS: Final = ("feature", "threshold", "missing_left", "left", "right", "value")

_Tree = tuple[tuple[int, ...], tuple[float, ...], tuple[bool, ...], tuple[int, ...],
              tuple[int, ...], tuple[float, ...]]  # fmt: skip


class ArtifactError(ValueError):
    """The artifact cannot be used: the message says which part is wrong."""


@dataclass(frozen=True, slots=True)
class DunningModel:
    """A loaded model: ``score(ctx)`` is the chance a retry at ``ctx.at`` succeeds."""

    version: int
    features: tuple[str, ...]
    baseline: float
    trees: tuple[_Tree, ...]
    sha256: str

    def score(self, ctx: AttemptContext) -> float:
        named = encode(ctx)
        return self.score_vector([named.get(name, 0.0) for name in self.features])

    def score_vector(self, x: Sequence[float]) -> float:
        """The probability for a feature vector laid out as ``self.features``."""
        logit = self.baseline
        for feature, threshold, missing_left, left, right, value in self.trees:
            i = 0
            while (f := feature[i]) >= 0:
                v = x[f]
                if v != v:  # NaN  # noqa: PLR0124
                    i = left[i] if missing_left[i] else right[i]
                elif v <= threshold[i]:
                    i = left[i]
                else:
                    i = right[i]
            logit += value[i]
        if logit < -700:  # exp() would overflow; the probability is 0 to double precision
            return 0.0
        return 1.0 / (1.0 + math.exp(-logit))


def load_model(data: bytes, expected_sha256: str | None = None) -> DunningModel:
    """Parse and validate an artifact's bytes (and their sha256, when one is expected)."""
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ArtifactError(
            f"model.json sha256 {digest} does not match the published {expected_sha256}"
        )
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"model.json is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ArtifactError("model.json must hold a JSON object")
    if raw.get("format") != FORMAT:
        raise ArtifactError(f"format must be {FORMAT!r}, got {raw.get('format')!r}")
    if raw.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"format_version {raw.get('format_version')!r} is not supported "
            f"(this code reads {FORMAT_VERSION})"
        )
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArtifactError(f"version must be a positive integer, got {version!r}")
    features = raw.get("features")
    if (not isinstance(features, list) or not features
            or not all(isinstance(f, str) for f in features)
            or len(set(features)) != len(features)):  # fmt: skip
        raise ArtifactError("features must be a non-empty list of distinct names")
    baseline = _number(raw.get("baseline"), "baseline")
    trees = raw.get("trees")
    if not isinstance(trees, list) or not trees:
        raise ArtifactError("trees must be a non-empty list")
    parsed = tuple(_tree(t, n, len(features)) for n, t in enumerate(trees))
    return DunningModel(version, tuple(features), baseline, parsed, digest)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ArtifactError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _tree(raw: Any, n: int, n_features: int) -> _Tree:
    where = f"trees[{n}]"
    if not isinstance(raw, dict) or set(raw) != set(_NODE_FIELDS):
        raise ArtifactError(f"{where} must have exactly the fields {', '.join(_NODE_FIELDS)}")
    columns = [raw[name] for name in _NODE_FIELDS]
    if not all(isinstance(c, list) for c in columns) or len({len(c) for c in columns}) != 1:
        raise ArtifactError(f"{where}: node columns must be lists of one length")
    size = len(columns[0])
    if size == 0:
        raise ArtifactError(f"{where} has no nodes")
    feature: list[int] = []
    for i in range(size):
        f, left, right = raw["feature"][i], raw["left"][i], raw["right"][i]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (f, left, right)):
            raise ArtifactError(f"{where} node {i}: feature, left and right must be integers")
        if not -1 <= f < n_features:
            raise ArtifactError(f"{where} node {i}: feature {f} outside 0..{n_features - 1}")
        if f >= 0 and not (i < left < size and i < right < size):
            raise ArtifactError(f"{where} node {i}: children must follow their parent")
        feature.append(f)
    return (
        tuple(feature),
        tuple(_number(v, f"{where}.threshold") for v in raw["threshold"]),
        tuple(bool(v) for v in raw["missing_left"]),
        tuple(raw["left"]),
        tuple(raw["right"]),
        tuple(_number(v, f"{where}.value") for v in raw["value"]),
    )
