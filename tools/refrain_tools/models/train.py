"""Fit, export and evaluate the dunning model (scikit-learn; tooling only).

The model: ``HistGradientBoostingClassifier`` on the features of
``refrain.dunning_model.features``. Trees capture what a linear model would need
hand-made interactions for (a payday matters for insufficient funds only, the hours
since failure for processing errors only), and a fitted tree exports exactly, node by
node, to the pure-Python artifact (``export``); a test holds the export to
``predict_proba`` within 1e-9.

Evaluation is time-ordered: the attempts are sorted by time, the first 80% train the
model, the last 20% test it, so the hold-out is the future the model will face (a random
split would leak each period's later retries into training). Reported: ROC AUC, log loss,
Brier score, a calibration table by predicted deciles, each beside the base-rate
baseline (the training success rate for everyone: AUC 0.5). The published model is the
one evaluated, trained on the first 80%.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from refrain.dunning_model.artifact import FORMAT, FORMAT_VERSION, load_model
from refrain.dunning_model.features import encode, feature_names
from refrain_tools.models.dataset import Attempt, markets_of

HOLDOUT_SHARE = 0.2
PARAMS: dict[str, Any] = {
    "max_iter": 150, "learning_rate": 0.08, "max_leaf_nodes": 15, "min_samples_leaf": 40,
    "l2_regularization": 1.0, "early_stopping": False, "random_state": 0,
}  # fmt: skip


@dataclass(frozen=True)
class Evaluation:
    rows: int
    positives: int
    auc: float
    log_loss: float
    brier: float
    baseline_rate: float
    baseline_log_loss: float
    baseline_brier: float
    calibration: list[dict[str, float]]  # per decile: n, mean predicted, observed


def matrix(attempts: Sequence[Attempt], names: Sequence[str]) -> np.ndarray:
    rows = []
    for a in attempts:
        named = encode(a.context)
        rows.append([named.get(n, 0.0) for n in names])
    return np.asarray(rows, dtype=np.float64).reshape(len(attempts), len(names))


def labels(attempts: Sequence[Attempt]) -> np.ndarray:
    return np.asarray([a.succeeded for a in attempts], dtype=np.int64)


def split(attempts: Sequence[Attempt]) -> tuple[list[Attempt], list[Attempt]]:
    """First 80% by time to train, the last 20% to test (attempts are time-sorted)."""
    ordered = sorted(attempts, key=lambda a: a.context.at)
    cut = int(len(ordered) * (1 - HOLDOUT_SHARE))
    return ordered[:cut], ordered[cut:]


def fit(train: Sequence[Attempt]) -> tuple[HistGradientBoostingClassifier, tuple[str, ...]]:
    y = labels(train)
    if len(set(y.tolist())) < 2:
        raise ValueError("training needs both successful and failed attempts")
    names = feature_names(markets_of(train))
    clf = HistGradientBoostingClassifier(**PARAMS)
    clf.fit(matrix(train, names), y)
    return clf, names


def export(clf: HistGradientBoostingClassifier, names: Sequence[str], version: int) -> bytes:
    """The fitted trees as the runtime's JSON artifact (format in refrain.dunning_model)."""
    if getattr(clf, "_preprocessor", None) is not None or clf.n_trees_per_iteration_ != 1:
        raise ValueError("only binary models on numeric features export")
    trees = []
    for (predictor,) in clf._predictors:
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise ValueError("categorical splits do not export")
        leaf = nodes["is_leaf"].astype(bool)
        trees.append({
            "feature": [-1 if lf else int(f) for lf, f in zip(leaf, nodes["feature_idx"],
                                                               strict=True)],
            "threshold": [0.0 if lf else float(t) for lf, t in zip(leaf, nodes["num_threshold"],
                                                                 strict=True)],
            "missing_left": [int(m) for m in nodes["missing_go_to_left"]],
            "left": [int(v) for v in nodes["left"]],
            "right": [int(v) for v in nodes["right"]],
            "value": [float(v) if lf else 0.0 for lf, v in zip(leaf, nodes["value"],
                                                               strict=True)],
        })  # fmt: skip
    artifact = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "model": "dunning",
        "version": version, "features": list(names),
        "baseline": float(np.ravel(clf._baseline_prediction)[0]), "trees": trees,
    }  # fmt: skip
    return json.dumps(artifact, separators=(",", ":")).encode()


def evaluate(predicted: Sequence[float], test: Sequence[Attempt], base_rate: float) -> Evaluation:
    y = labels(test)
    p = np.clip(np.asarray(predicted, dtype=np.float64), 1e-15, 1 - 1e-15)
    base = np.full(len(y), min(max(base_rate, 1e-15), 1 - 1e-15))
    both = len(set(y.tolist())) == 2
    return Evaluation(
        rows=len(y),
        positives=int(y.sum()),
        auc=float(roc_auc_score(y, p)) if both else math.nan,
        log_loss=float(log_loss(y, p, labels=[0, 1])),
        brier=float(brier_score_loss(y, p)),
        baseline_rate=base_rate,
        baseline_log_loss=float(log_loss(y, base, labels=[0, 1])),
        baseline_brier=float(brier_score_loss(y, base)),
        calibration=calibration(p, y),
    )


def calibration(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Deciles of the predicted probability: rows, mean predicted, observed rate."""
    order = np.argsort(p, kind="stable")
    table = []
    for chunk in np.array_split(order, bins):
        if len(chunk):
            table.append({"n": float(len(chunk)), "predicted": float(p[chunk].mean()),
                          "observed": float(y[chunk].mean())})  # fmt: skip
    return table


@dataclass(frozen=True)
class Trained:
    model_json: bytes
    metadata: dict[str, Any]
    evaluation: Evaluation


def train(attempts: Sequence[Attempt], start: datetime, end: datetime, version: int) -> Trained:
    """Split by time, fit, export, score the hold-out with the exported artifact."""
    train_rows, test_rows = split(attempts)
    if not test_rows:
        raise ValueError(f"too few attempts to train and hold out: {len(attempts)}")
    clf, names = fit(train_rows)
    model_json = export(clf, names, version)
    model = load_model(model_json)
    predicted = [model.score(a.context) for a in test_rows]
    evaluation = evaluate(predicted, test_rows, float(labels(train_rows).mean()))
    metadata = {
        "model": "dunning", "version": version,
        "sha256": hashlib.sha256(model_json).hexdigest(),
        "window": {"from": start.isoformat(), "to": end.isoformat()},
        "train": {"rows": len(train_rows), "until": train_rows[-1].context.at.isoformat()},
        "holdout": {"rows": len(test_rows), "from": test_rows[0].context.at.isoformat()},
        "metrics": asdict(evaluation), "params": PARAMS, "features": list(names),
        "trainer": f"scikit-learn {sklearn.__version__} HistGradientBoostingClassifier",
    }  # fmt: skip
    return Trained(model_json, metadata, evaluation)


def report(evaluation: Evaluation, rows: str = "hold-out", base: str = "training") -> str:
    e = evaluation
    lines = [
        f"{rows}: {e.rows} attempts, {e.positives} succeeded "
        f"({e.positives / e.rows:.1%}); base rate from {base} {e.baseline_rate:.1%}",
        f"{'':<10}{'AUC':>8}{'log loss':>10}{'Brier':>9}",
        f"{'model':<10}{e.auc:8.4f}{e.log_loss:10.4f}{e.brier:9.4f}",
        f"{'base rate':<10}{0.5:8.4f}{e.baseline_log_loss:10.4f}{e.baseline_brier:9.4f}",
        "calibration (deciles of predicted):",
        f"  {'decile':>6}{'rows':>7}{'predicted':>11}{'observed':>10}",
    ]
    for i, row in enumerate(e.calibration, start=1):
        lines.append(f"  {i:6d}{int(row['n']):7d}{row['predicted']:11.4f}{row['observed']:10.4f}")
    return "\n".join(lines)
