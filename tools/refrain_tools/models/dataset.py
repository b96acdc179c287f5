"""Training rows for the dunning model, from the churn signals in BigQuery.

One row per automatic retry: its facts (``AttemptContext``) and whether it succeeded.
A period's retries are the ``dunning_retry`` signals after its ``payment_failed``; a
``recovered``/``reactivated`` signal closes the period as a successful attempt. The
query reads the payment signals of the window (plus 40 days before it, to find the
failure a retry belongs to) in subscription order; the assembly into attempts is plain
Python, shared by training and evaluation. Only attempts inside [start, end) are kept.

Known bias: a recovery the customer made on-session (a new card in the account page) is
also a ``recovered`` signal and counts here as a successful retry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.cloud import bigquery

from refrain.churn.rows import SIGNALS_TABLE
from refrain.dunning_model.features import AttemptContext

_LOOKBACK = timedelta(days=40)  # the dunning window is 30 days
_QUERY = """
SELECT subscription_key, sequence, signal_type, occurred_at, market, attempt,
       decline_category
FROM `{table}`
WHERE signal_type IN ('payment_failed', 'dunning_retry', 'recovered', 'reactivated')
  AND occurred_at >= @lo AND occurred_at < @hi
ORDER BY subscription_key, sequence
"""


@dataclass(frozen=True, slots=True)
class Attempt:
    context: AttemptContext
    succeeded: bool


def fetch_attempts(
    client: bigquery.Client, dataset: str, start: datetime, end: datetime
) -> list[Attempt]:
    """The retries made in [start, end), ordered by time."""
    table = f"{client.project}.{dataset}.{SIGNALS_TABLE}"
    job = client.query(
        _QUERY.format(table=table),
        job_config=bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("lo", "TIMESTAMP", start - _LOOKBACK),
                bigquery.ScalarQueryParameter("hi", "TIMESTAMP", end),
            ]
        ),
    )
    return assemble((dict(row.items()) for row in job.result()), start, end)


def assemble(signals: Iterable[dict[str, Any]], start: datetime, end: datetime) -> list[Attempt]:
    """Attempts from payment signals sorted by (subscription_key, sequence)."""
    out: list[Attempt] = []
    key: str | None = None
    failed_at: datetime | None = None
    category, attempts = "other", 1
    for s in signals:
        if s["subscription_key"] != key:
            key, failed_at = s["subscription_key"], None
        kind, at = s["signal_type"], s["occurred_at"]
        if kind == "payment_failed":
            failed_at, category, attempts = at, s["decline_category"] or "other", 1
            continue
        if failed_at is None:  # a retry whose failure is outside the query's reach
            continue
        number = int(s["attempt"] or attempts + 1)
        if start <= at < end:
            ctx = AttemptContext(category, number, s["market"] or "", failed_at, at)
            out.append(Attempt(ctx, kind != "dunning_retry"))
        if kind == "dunning_retry":
            category, attempts = s["decline_category"] or category, number
        else:
            failed_at = None  # recovered: the period is closed
    out.sort(key=lambda a: a.context.at)
    return out


def markets_of(attempts: Sequence[Attempt], min_rows: int = 50) -> tuple[str, ...]:
    """Markets with enough rows to get their own one-hot column (the rest share none)."""
    counts: dict[str, int] = {}
    for a in attempts:
        market = a.context.market.upper()
        counts[market] = counts.get(market, 0) + 1
    return tuple(sorted(m for m, n in counts.items() if n >= min_rows and m))
