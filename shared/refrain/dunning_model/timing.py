"""Pick the retry time the model likes best among the ones a policy allows.

The policy (``refrain.domain``'s smart schedule) owns the rules: grace and hold
windows, network limits (never retry Visa category 1 or Mastercard advice 03/21), the
attempt budget. It passes only allowed candidates; this helper only ranks them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from refrain.dunning_model.artifact import DunningModel
from refrain.dunning_model.features import AttemptContext

__all__ = ["best_time"]


def best_time(
    model: DunningModel,
    candidates: Iterable[datetime],
    features_fn: Callable[[datetime], AttemptContext],
) -> tuple[datetime, float] | None:
    """The candidate with the highest score, and that score; None without candidates.

    ``features_fn(t)`` describes an attempt at ``t`` (usually
    ``dataclasses.replace(base_context, at=t)``). Ties go to the earliest candidate:
    an earlier recovery keeps access and revenue sooner. Log ``model.version`` with
    the decision.
    """
    best: tuple[datetime, float] | None = None
    for at in sorted(candidates):
        score = model.score(features_fn(at))
        if best is None or score > best[1]:
            best = (at, score)
    return best
