"""The daily churn-feature snapshot, as BigQuery SQL over the signals table (pure text).

Computed from the signals rather than from Firestore: the signals are the
full history, so any past day can be recomputed exactly (backfill, a fixed
bug, a new feature), while Firestore only holds today's state; and the
subscriber data never has to leave Firestore a second time. The cost is one
scan of the signals' used columns up to the day per run.

A run replaces its day atomically: ``DELETE`` the ``snapshot_date``
partition and ``INSERT`` the new rows in one multi-statement transaction,
so re-running a day (the scheduler retrying, a backfill) gives the same
table, never a doubled day. Duplicate signal rows, should a concurrent
race ever leave one, count once (``QUALIFY`` on ``signal_id``).

Definitions, as of the end of the day (UTC):
- tenure_days: days since the subscriber's first activation;
- failed_payments_30d / _90d: payment_failed + dunning_retry signals in the
  30 / 90 days ending then; days_since_last_failure: to the last one;
- plan_changes / upgrades / downgrades and recoveries (recovered +
  reactivated): all time;
- days_to_renewal: to the most recently reported period end (null once churned);
- cancel_at_period_end: a scheduled cancellation not since reverted or
  superseded (grace, hold, expiry, re-activation, pause);
- price_point / plan / market / state: from the latest signal.
Subscribers whose latest signal is an expiry more than 90 days old drop out.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from refrain.churn.rows import FeatureRow, bigquery_fields
from refrain.churn.taxonomy import TAXONOMY_VERSION

__all__ = ["FEATURE_VERSION", "snapshot_script", "snapshot_select"]

FEATURE_VERSION: Final = TAXONOMY_VERSION

_FAILURES = "('payment_failed', 'dunning_retry')"
_CLEARS_CANCEL = (
    "('cancel_reverted', 'entered_grace', 'on_hold', 'expired', 'activated', 'reactivated',"
    " 'paused')"
)


def snapshot_select(signals: str, day: date) -> str:
    """SELECT producing the FeatureRow columns for ``day``.

    The day is inlined as a DATE literal from a ``date`` object (no injection
    surface): bqemulator does not pass query parameters into scripts.
    """
    if not isinstance(day, date):
        raise TypeError("day must be a datetime.date")
    literal = f"DATE '{day.isoformat()}'"
    end = f"TIMESTAMP(DATE_ADD({literal}, INTERVAL 1 DAY))"
    # Table names come from code and the day is a formatted date object: no injection.
    return f"""
WITH sig AS (
  SELECT * FROM `{signals}`
  WHERE occurred_at < {end}
  QUALIFY ROW_NUMBER() OVER (PARTITION BY signal_id ORDER BY recorded_at) = 1
),
latest AS (
  SELECT subscriber_key, market, plan, billing_mode, provider, state, currency, price_minor,
         renewal_count, churn_type, occurred_at AS last_signal_at
  FROM sig
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY subscriber_key ORDER BY occurred_at DESC, sequence DESC, signal_id DESC) = 1
),
last_period AS (
  SELECT subscriber_key AS period_key, period_end
  FROM sig
  WHERE period_end IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY subscriber_key ORDER BY occurred_at DESC, sequence DESC, signal_id DESC) = 1
),
agg AS (
  SELECT
    subscriber_key AS agg_key,
    MIN(IF(signal_type = 'activated', occurred_at, NULL)) AS first_start,
    COUNTIF(signal_type IN {_FAILURES}
            AND occurred_at >= TIMESTAMP_SUB({end}, INTERVAL 30 DAY)) AS failed_30d,
    COUNTIF(signal_type IN {_FAILURES}
            AND occurred_at >= TIMESTAMP_SUB({end}, INTERVAL 90 DAY)) AS failed_90d,
    MAX(IF(signal_type IN {_FAILURES}, occurred_at, NULL)) AS last_failure,
    COUNTIF(signal_type = 'plan_changed') AS plan_changes,
    COUNTIF(signal_type = 'plan_changed' AND plan_change_direction = 'upgrade') AS upgrades,
    COUNTIF(signal_type = 'plan_changed' AND plan_change_direction = 'downgrade') AS downgrades,
    COUNTIF(signal_type IN ('recovered', 'reactivated')) AS recoveries,
    MAX(IF(signal_type = 'cancel_requested' AND cancel_at_period_end, occurred_at, NULL))
      AS last_cancel,
    MAX(IF(signal_type IN {_CLEARS_CANCEL}, occurred_at, NULL)) AS last_clear
  FROM sig
  GROUP BY subscriber_key
)
SELECT
  {literal} AS snapshot_date,
  l.subscriber_key AS subscriber_key,
  {FEATURE_VERSION} AS schema_version,
  l.market AS market,
  l.plan AS plan,
  l.billing_mode AS billing_mode,
  l.provider AS provider,
  l.state AS state,
  l.currency AS currency,
  l.price_minor AS price_minor,
  DATE_DIFF({literal}, DATE(a.first_start), DAY) AS tenure_days,
  l.renewal_count AS renewal_count,
  a.failed_30d AS failed_payments_30d,
  a.failed_90d AS failed_payments_90d,
  DATE_DIFF({literal}, DATE(a.last_failure), DAY) AS days_since_last_failure,
  a.plan_changes AS plan_changes,
  a.upgrades AS upgrades,
  a.downgrades AS downgrades,
  IF(l.state = 'expired', NULL, DATE_DIFF(DATE(p.period_end), {literal}, DAY))
    AS days_to_renewal,
  (a.last_cancel IS NOT NULL AND (a.last_clear IS NULL OR a.last_cancel > a.last_clear)
   AND l.state != 'expired') AS cancel_at_period_end,
  a.recoveries AS recoveries,
  (l.state = 'expired') AS churned,
  IF(l.state = 'expired', l.churn_type, NULL) AS churn_type,
  l.last_signal_at AS last_signal_at
FROM latest AS l
JOIN agg AS a ON a.agg_key = l.subscriber_key
LEFT JOIN last_period AS p ON p.period_key = l.subscriber_key
WHERE l.state != 'expired' OR l.last_signal_at >= TIMESTAMP_SUB({end}, INTERVAL 90 DAY)
"""  # noqa: S608


def snapshot_script(signals: str, features: str, day: date) -> str:
    """Replace the ``day`` partition of ``features`` in one transaction."""
    columns = ", ".join(name for name, _, _, _ in bigquery_fields(FeatureRow))
    return (
        "BEGIN TRANSACTION;\n"
        f"DELETE FROM `{features}` WHERE snapshot_date = DATE '{day.isoformat()}';\n"
        f"INSERT INTO `{features}` ({columns})\n"
        f"SELECT {columns} FROM ({snapshot_select(signals, day)});\n"
        "COMMIT TRANSACTION;"
    )
