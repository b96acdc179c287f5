"""The JSON artifact: the pure-Python scorer equals scikit-learn; bad files are refused."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier

from refrain.dunning_model import ArtifactError, AttemptContext, load_model
from refrain_tools.models.dataset import Attempt, assemble
from refrain_tools.models.history import simulate_signals
from refrain_tools.models.train import export, fit, matrix, split

START = datetime(2026, 1, 1, tzinfo=UTC)


@cache
def attempts() -> tuple[Attempt, ...]:
    rows = sorted((r.model_dump() for r in simulate_signals(3, 2500, 6, START)),
                  key=lambda r: (r["subscription_key"], r["sequence"]))  # fmt: skip
    return tuple(assemble(rows, START, datetime(2026, 9, 1, tzinfo=UTC)))


def test_the_exported_trees_reproduce_predict_proba_on_held_out_rows() -> None:
    train, test = split(attempts())
    clf, names = fit(train)
    model = load_model(export(clf, names, version=1))
    x = matrix(test, names)
    expected = clf.predict_proba(x)[:, 1]
    ours = np.asarray([model.score(a.context) for a in test])
    assert len(test) > 500
    assert np.max(np.abs(ours - expected)) < 1e-9
    assert np.std(expected) > 0.05  # a model that learned something, not a constant


def test_missing_values_follow_the_learned_side() -> None:
    """NaN routing (missing_go_to_left) is exported too, on a model trained with gaps."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 3))
    y = (x[:, 0] + rng.normal(scale=0.5, size=3000) > 0).astype(int)
    x[rng.random(3000) < 0.2, 0] = np.nan
    y[np.isnan(x[:, 0])] = 1
    clf = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x, y)
    model = load_model(export(clf, ("a", "b", "c"), version=1))
    probe = rng.normal(size=(200, 3))
    probe[::3, 0] = np.nan
    ours = np.asarray([model.score_vector(list(row)) for row in probe])
    assert np.max(np.abs(ours - clf.predict_proba(probe)[:, 1])) < 1e-9


def _artifact(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "format": "refrain.dunning_model", "format_version": 1, "model": "dunning",
        "version": 1, "features": ["attempt", "local_hour"], "baseline": -1.0,
        "trees": [{"feature": [1, -1, -1], "threshold": [9.5, 0.0, 0.0],
                   "missing_left": [1, 0, 0], "left": [1, 0, 0], "right": [2, 0, 0],
                   "value": [0.0, -0.5, 0.5]}],
    }  # fmt: skip
    base.update(changes)
    return base


def _bytes(artifact: dict[str, Any]) -> bytes:
    return json.dumps(artifact).encode()


def test_a_small_artifact_scores_by_hand() -> None:
    model = load_model(_bytes(_artifact()))
    assert model.score_vector([2.0, 8.0]) == pytest.approx(1 / (1 + math.exp(1.5)))
    assert model.score_vector([2.0, 10.0]) == pytest.approx(1 / (1 + math.exp(0.5)))
    assert model.score_vector([2.0, math.nan]) == model.score_vector([2.0, 8.0])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (_bytes(_artifact(format="onnx")), "format must be"),
        (_bytes(_artifact(format_version=2)), "format_version 2 is not supported"),
        (_bytes(_artifact(version=0)), "version must be a positive integer"),
        (_bytes(_artifact(features=["a", "a"])), "distinct names"),
        (_bytes(_artifact(baseline="NaN")), "baseline must be a finite number"),
        (_bytes(_artifact(trees=[])), "trees must be a non-empty list"),
        (_bytes(_artifact(trees=[{"feature": [-1]}])), "must have exactly the fields"),
    ],
)
def test_malformed_artifacts_are_refused_with_the_part_named(data: bytes, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        load_model(data)


def _tree(**changes: Any) -> bytes:
    tree = {**_artifact()["trees"][0], **changes}
    return _bytes(_artifact(trees=[tree]))


def test_a_tree_that_could_loop_or_read_past_the_vector_is_refused() -> None:
    with pytest.raises(ArtifactError, match="children must follow their parent"):
        load_model(_tree(left=[0, 0, 0]))  # node 0 points to itself
    with pytest.raises(ArtifactError, match="feature 7 outside"):
        load_model(_tree(feature=[7, -1, -1]))
    with pytest.raises(ArtifactError, match="one length"):
        load_model(_tree(value=[0.0, 1.0]))
    with pytest.raises(ArtifactError, match="threshold must be a finite number"):
        load_model(_bytes(_artifact(trees=[{**_artifact()["trees"][0],
                                            "threshold": [1e400, 0, 0]}])))  # fmt: skip


def test_a_corrupt_or_swapped_file_fails_its_sha256() -> None:
    data = _bytes(_artifact())
    good = hashlib.sha256(data).hexdigest()
    assert load_model(data, expected_sha256=good).sha256 == good
    with pytest.raises(ArtifactError, match="does not match the published"):
        load_model(data.replace(b"-0.5", b"-0.4"), expected_sha256=good)


@cache
def trained() -> Any:
    train, _ = split(attempts())
    clf, names = fit(train)
    return load_model(export(clf, names, version=1))


CATEGORY = st.sampled_from(["insufficient_funds", "do_not_honor", "processing_error",
                            "expired_card", "other", "never_seen"])  # fmt: skip
WHEN = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                    timezones=st.just(UTC))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(CATEGORY, st.integers(1, 12), st.sampled_from(["SE", "US", "JP", "BR", "ZZ", "de"]),
       WHEN, st.floats(0, 60 * 24))  # fmt: skip
def test_every_score_is_a_probability(
    category: str, attempt: int, market: str, failed_at: datetime, minutes: float
) -> None:
    from datetime import timedelta

    ctx = AttemptContext(category, attempt, market, failed_at,
                         failed_at + timedelta(minutes=minutes))  # fmt: skip
    assert 0.0 <= trained().score(ctx) <= 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=3, max_size=3), st.floats(-20, 20),
       st.floats(0, 20), st.floats(-50, 50))  # fmt: skip
def test_scores_rise_with_the_leaf_values_and_the_feature_across_a_rising_tree(
    values: list[float], baseline: float, step: float, x: float
) -> None:
    """Monotone where it should be: a higher logit never gives a lower probability."""
    leaves = sorted(values)
    tree = {"feature": [0, 1, -1, -1, -1], "threshold": [0.0, -1.0, 0.0, 0.0, 0.0],
            "missing_left": [0] * 5, "left": [2, 3, 0, 0, 0], "right": [1, 4, 0, 0, 0],
            "value": [0.0, 0.0, leaves[0], leaves[1], leaves[2]]}  # fmt: skip
    low = load_model(_bytes(_artifact(baseline=baseline, trees=[tree])))
    high = load_model(_bytes(_artifact(baseline=baseline + step, trees=[tree])))
    assert low.score_vector([x, x]) <= high.score_vector([x, x])
    assert low.score_vector([x, x]) <= low.score_vector([x + step, x + step])
