"""Experiments declared in version-controlled configuration (``experiments.toml``).

Each experiment says what it tests and how it will be judged before it starts: its key
and hash seed, variants and weights, the unit (the pseudonymous subscriber key, never
an account id), who is eligible, when it runs, the primary success metric, guardrail
metrics each with a non-inferiority margin, and the planned sample size and minimum
detectable effect the plan was powered for, how many times it will be read (the
sequential test's boundary depends on it), the decision it varies (where a unit is
exposed, ``refrain.experiments.exposure``) and the pre-exposure covariate CUPED uses. A
running experiment's weights change only with a version bump (assignment.py keeps
assigned units where they are).
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from refrain.experiments.assignment import Assignment, Sticky, assign

CONFIG = Path(__file__).with_name("experiments.toml")
# The decisions an experiment can vary; each names where its units are exposed.
Decision = Literal["dunning_retry_schedule"]
# Pre-exposure covariates an exposure can carry for CUPED (known before the decision).
Covariate = Literal["renewal_count"]
# Planned reads: Pocock's boundary is tabulated for these numbers of looks.
Looks = Literal[1, 2, 3, 4, 5, 10]
_KEY = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


class Variant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=_KEY.pattern)
    weight: float = Field(gt=0, le=1)


class Guardrail(BaseModel):
    """A metric that must not get worse by more than ``margin`` (relative, e.g. 0.02)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    direction: Literal["higher_is_better", "lower_is_better"]
    margin: float = Field(gt=0, lt=1)


class Eligibility(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    billing_modes: tuple[Literal["merchant_managed", "provider_managed"], ...] = (
        "merchant_managed",
    )
    markets: tuple[str, ...] = ()  # empty: every market
    providers: tuple[str, ...] = ()  # empty: every provider

    def admits(self, *, billing_mode: str, market: str, provider: str) -> bool:
        return (
            billing_mode in self.billing_modes
            and (not self.markets or market in self.markets)
            and (not self.providers or provider in self.providers)
        )


class Experiment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=_KEY.pattern)
    seed: str = Field(min_length=1)
    version: int = Field(ge=1)
    unit: Literal["subscriber_key"] = "subscriber_key"
    variants: tuple[Variant, ...] = Field(min_length=2)
    coverage: float = Field(default=1.0, gt=0, le=1)
    eligibility: Eligibility = Eligibility()
    start: AwareDatetime
    stop: AwareDatetime | None = None
    primary_metric: str
    guardrails: tuple[Guardrail, ...] = ()
    planned_units_per_variant: int = Field(ge=100)
    minimum_detectable_effect: float = Field(gt=0, lt=1)  # relative lift the plan detects
    decision: Decision  # what the assignment decides: where a unit is exposed
    covariate: Covariate | None = None  # recorded with each exposure, for CUPED
    planned_looks: Looks = 1  # how many times it will be read (the sequential boundary)

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        keys = [v.key for v in self.variants]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.key}: variant keys repeat: {keys}")
        total = sum(v.weight for v in self.variants)
        if abs(total - 1) > 1e-9:
            raise ValueError(f"{self.key}: variant weights sum to {total}, not 1")
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"{self.key}: stop must be after start")
        return self

    @property
    def variant_keys(self) -> tuple[str, ...]:
        return tuple(v.key for v in self.variants)

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(v.weight for v in self.variants)

    def running(self, at: datetime) -> bool:
        return self.start <= at and (self.stop is None or at < self.stop)

    def assignment_at(
        self,
        unit: str,
        at: datetime,
        *,
        billing_mode: str | None,
        market: str | None,
        provider: str | None,
    ) -> Assignment | None:
        """The unit's assignment when the decision is taken at ``at``, or None: not
        running, not eligible, outside the coverage. One function for both sides: the
        decision (renewal_charge) and its exposure row (refrain.experiments.exposure)
        call it with the same inputs, so the row names the variant that was used."""
        if not self.running(at) or billing_mode is None or market is None or provider is None:
            return None
        if not self.eligibility.admits(billing_mode=billing_mode, market=market, provider=provider):
            return None
        assignment = self.assign(unit)
        return assignment if assignment.variant is not None else None

    def assign(self, unit: str, sticky: Sticky | None = None) -> Assignment:
        """The unit's variant under this version (its sticky one if it has one)."""
        return assign(
            key=self.key, seed=self.seed, unit=unit, variants=self.variant_keys,
            weights=self.weights, coverage=self.coverage, version=self.version, sticky=sticky,
        )  # fmt: skip


class ExperimentCatalog(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    experiments: tuple[Experiment, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> ExperimentCatalog:
        keys = [e.key for e in self.experiments]
        if len(set(keys)) != len(keys):
            raise ValueError(f"experiment keys repeat: {keys}")
        seeds = [e.seed for e in self.experiments]
        if len(set(seeds)) != len(seeds):
            raise ValueError("two experiments share a seed (their assignments would correlate)")
        return self

    def get(self, key: str) -> Experiment:
        for experiment in self.experiments:
            if experiment.key == key:
                return experiment
        raise KeyError(f"no experiment {key!r} in the configuration")


def load_experiments(path: Path = CONFIG) -> ExperimentCatalog:
    """The declared experiments; a malformed file is a clear error naming what is wrong."""
    with path.open("rb") as fh:
        return ExperimentCatalog.model_validate(tomllib.load(fh))
