"""The exported rows, one pydantic model each, and the BigQuery schema they generate.

:func:`bigquery_fields` turns a model into (name, type, mode, description)
tuples; ``refrain.topology`` wraps them in ``Column`` objects, the local
stack provisions from there and Terraform's table JSON is generated from the
topology, so this file is the single definition of both tables. Nothing
here imports a Google library.

Pseudonymity is structural: no field can hold an account id, a name or an
e-mail. Identifiers are keyed hashes (:mod:`refrain.churn.pseudonym`) and
every string is either a catalog code (plan, market, currency, provider) or
a closed vocabulary (:mod:`refrain.churn.taxonomy`).
"""

from __future__ import annotations

import types
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from refrain.churn.taxonomy import ChurnType, DeclineCategory, SignalType

__all__ = [
    "SIGNALS_TABLE",
    "SNAPSHOT_TABLE",
    "FeatureRow",
    "FieldSpec",
    "SignalRow",
    "bigquery_fields",
]

SIGNALS_TABLE: Final = "churn_signals"
SNAPSHOT_TABLE: Final = "churn_features_daily"

FieldSpec = tuple[str, str, str, str]
"""(name, BigQuery type, mode, description)."""


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=True)


class SignalRow(_Row):
    """One lifecycle signal. ``signal_id`` is the dedupe key (one row per domain event)."""

    signal_id: str = Field(description="keyed hash of the subscription + event sequence; unique")
    signal_type: SignalType = Field(description="taxonomy value (see schema_version)")
    schema_version: int = Field(description="taxonomy and row schema version")
    occurred_at: AwareDatetime = Field(description="when it happened (provider time); partition")
    recorded_at: AwareDatetime = Field(description="when our state machine applied it")
    subscriber_key: str = Field(description="HMAC-SHA256(pepper, account id), hex")
    subscription_key: str = Field(description="keyed hash of the subscription id")
    sequence: int = Field(description="event sequence within the subscription (orders signals)")
    source_event: str = Field(description="domain event type the signal came from")
    market: str | None = Field(None, description="ISO 3166 market code")
    plan: str | None = Field(None, description="catalog plan id after the change")
    billing_mode: str | None = Field(None, description="merchant_managed | provider_managed")
    provider: str | None = Field(None, description="payment provider")
    state: str | None = Field(None, description="subscription state after the change")
    currency: str | None = Field(None, description="ISO 4217 code of price/amount")
    price_minor: int | None = Field(None, description="list price of the plan, minor units")
    amount_minor: int | None = Field(None, description="money moved by this signal, minor units")
    tenure_days: int | None = Field(None, description="days since start (activation 0, expiry)")
    renewal_count: int | None = Field(None, description="paid renewals so far")
    failed_attempts: int | None = Field(None, description="failed charges in this period so far")
    attempt: int | None = Field(None, description="charge attempt number (payment signals)")
    decline_category: DeclineCategory | None = Field(None, description="payment failures")
    hard_decline: bool | None = Field(None, description="decline needs customer action")
    retry_policy: str | None = Field(
        None,
        description="payment failures: policy/version that "
        "scheduled the next attempt (fixed/1, smart/1)",
    )
    retry_variant: str | None = Field(
        None,
        description="payment failures: the dunning "
        "experiment's variant that policy ran, if one decided",
    )
    reason: str | None = Field(None, description="cancel, refund or dispute reason (vocabulary)")
    churn_type: ChurnType | None = Field(None, description="expired: voluntary/involuntary/revoked")
    from_trial: bool | None = Field(None, description="activated: a trial converted")
    plan_change_direction: Literal["upgrade", "downgrade"] | None = Field(None, description="")
    from_plan: str | None = Field(None, description="plan_changed: previous plan")
    from_state: str | None = Field(None, description="recovered/reactivated: state left")
    period_end: AwareDatetime | None = Field(None, description="end of the paid period, if known")
    cancel_at_period_end: bool | None = Field(None, description="cancel_requested: scheduled")
    access_revoked: bool | None = Field(None, description="refund/chargeback took access away")


class FeatureRow(_Row):
    """One subscriber on one day: what a churn model reads. Recomputable for any past day."""

    snapshot_date: date = Field(description="features as of the end of this UTC day; partition")
    subscriber_key: str = Field(description="HMAC-SHA256(pepper, account id), hex")
    schema_version: int = Field(description="feature definition version")
    market: str | None = Field(None, description="market of the latest signal")
    plan: str | None = Field(None, description="plan of the latest signal")
    billing_mode: str | None = None
    provider: str | None = None
    state: str | None = Field(None, description="subscription state after the latest signal")
    currency: str | None = None
    price_minor: int | None = Field(None, description="price point (list price), minor units")
    tenure_days: int | None = Field(None, description="days since first activation")
    renewal_count: int | None = None
    failed_payments_30d: int = Field(description="payment failures in the 30 days to the date")
    failed_payments_90d: int = Field(description="payment failures in the 90 days to the date")
    days_since_last_failure: int | None = Field(None, description="null: never failed")
    plan_changes: int = Field(description="plan changes, all time")
    upgrades: int = Field(description="upgrades, all time")
    downgrades: int = Field(description="downgrades, all time")
    days_to_renewal: int | None = Field(None, description="days to the current period's end")
    cancel_at_period_end: bool = Field(description="a cancellation is scheduled")
    recoveries: int = Field(description="recovered + reactivated, all time")
    churned: bool = Field(description="latest state is expired")
    churn_type: str | None = Field(None, description="type of the latest expiry")
    last_signal_at: AwareDatetime = Field(description="time of the latest signal")


_SCALARS: Final[dict[type, str]] = {
    str: "STRING",
    int: "INT64",
    float: "FLOAT64",
    bool: "BOOL",
    datetime: "TIMESTAMP",
    AwareDatetime: "TIMESTAMP",
    date: "DATE",
}


def _bigquery_type(annotation: Any) -> tuple[str, bool]:
    """(type, nullable) for a field annotation; refuses anything without a mapping."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        return _bigquery_type(args[0])[0], True
    if origin is Literal:
        return "STRING", False
    for base in getattr(annotation, "__mro__", ()):
        if base is StrEnum:
            return "STRING", False
    if get_origin(annotation) is None and annotation in _SCALARS:
        return _SCALARS[annotation], False
    metadata = get_args(annotation)  # Annotated[datetime, ...] (AwareDatetime)
    if metadata and metadata[0] in _SCALARS:
        return _SCALARS[metadata[0]], False
    raise TypeError(f"no BigQuery type for {annotation!r}")


def bigquery_fields(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    """The model's fields as BigQuery columns, in declaration order."""
    out: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        bq_type, nullable = _bigquery_type(info.annotation)
        nullable = nullable or not info.is_required()
        out.append((name, bq_type, "NULLABLE" if nullable else "REQUIRED", info.description or ""))
    return tuple(out)
