"""Which way a plan change goes: plain ranks, no catalog.

The state machine decides with this alone (an upgrade applies now with a proration
charge, a downgrade waits for the period end), so it never loads the catalog's models;
callers resolve ranks from the catalog (:mod:`refrain.domain.catalog`, which
re-exports both names).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ChangeDirection", "change_direction"]


class ChangeDirection(StrEnum):
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"


def change_direction(from_rank: int, to_rank: int) -> ChangeDirection:
    """Upgrade if the target ranks higher (bigger tier, or yearly over monthly).

    Upgrades apply now with a proration charge; downgrades wait for the period end.
    """
    if from_rank == to_rank:
        raise ValueError(f"a plan change needs another rank, both are {from_rank}")
    return ChangeDirection.UPGRADE if to_rank > from_rank else ChangeDirection.DOWNGRADE
