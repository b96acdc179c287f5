"""The system's messaging and analytics topology, declared once.

The local stack provisions exactly this, and the Terraform tests compare the
cloud declaration against it, so what runs locally is what gets deployed.
Every subscription has a dead-letter topic and bounded retries (invariant 8).
A subscription with a push target delivers to that function; one without is a
pull queue that a function drains on a schedule (``churn-export``, drained in
batches by the ``export-flush`` tick, because one BigQuery MERGE per pushed
message bills the 10 MB minimum per row).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

FieldType = Literal["STRING", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "DATE", "JSON"]
FieldMode = Literal["NULLABLE", "REQUIRED", "REPEATED"]


@dataclass(frozen=True)
class Topic:
    name: str
    retention_days: int = 7


MAX_ACK_DEADLINE_S = 600  # Pub/Sub's maximum


@dataclass(frozen=True)
class Function:
    """One deployed Cloud Function (gen2): its source folder and entry point.

    Several functions may share a source folder (the renewal tick and the
    charge worker do); only `public` functions accept unauthenticated calls.
    `timeout_s` is the function's request timeout; a push subscription's ack deadline
    (for push, how long Pub/Sub waits for the answer) is set to cover it, so a long
    run is never redelivered while it is still running.
    """

    name: str
    source: str
    entry_point: str
    signature: Literal["http", "cloudevent"]
    public: bool = False
    timeout_s: int = 60


@dataclass(frozen=True)
class PushTarget:
    """A function that a subscription delivers to, and the path it posts on."""

    function: str
    path: str = "/"


@dataclass(frozen=True)
class Subscription:
    name: str
    topic: str
    dead_letter_topic: str
    push: PushTarget | None = None
    ordering: bool = True
    ack_deadline_s: int = 60
    max_delivery_attempts: int = 10
    min_backoff_s: int = 10
    max_backoff_s: int = 600
    # Consumers also filter by the `type` attribute themselves: the emulator ignores filters.
    filter: str = ""


@dataclass(frozen=True)
class Column:
    name: str
    type: FieldType
    mode: FieldMode = "NULLABLE"
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    partition_field: str | None = None
    clustering: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Dataset:
    """A BigQuery dataset; its tables given as they are or by a function that declares them
    (the churn tables come from pydantic row models, which only their users load)."""

    name: str
    declared: tuple[Table, ...] | Callable[[], tuple[Table, ...]] = ()

    @property
    def tables(self) -> tuple[Table, ...]:
        return self.declared() if callable(self.declared) else self.declared


@dataclass(frozen=True)
class Topology:
    topics: tuple[Topic, ...]
    subscriptions: tuple[Subscription, ...]
    datasets: tuple[Dataset, ...]
    functions: tuple[Function, ...] = ()

    def topic_names(self) -> set[str]:
        return {t.name for t in self.topics}

    def validate(self) -> None:
        """Refuse a topology that breaks invariant 8 or names a missing topic."""
        names = self.topic_names()
        functions = {f.name for f in self.functions}
        for sub in self.subscriptions:
            if self.functions and sub.push and sub.push.function not in functions:
                raise ValueError(f"subscription {sub.name} pushes to unknown function")
            if sub.topic not in names:
                raise ValueError(f"subscription {sub.name} reads unknown topic {sub.topic}")
            if sub.dead_letter_topic not in names:
                raise ValueError(f"subscription {sub.name} has unknown dead-letter topic")
            if sub.dead_letter_topic == sub.topic:
                raise ValueError(f"subscription {sub.name} dead-letters into its own topic")
            if not 5 <= sub.max_delivery_attempts <= 100:
                raise ValueError(f"subscription {sub.name}: attempts must be within 5..100")
            if not 10 <= sub.ack_deadline_s <= MAX_ACK_DEADLINE_S:
                raise ValueError(f"subscription {sub.name}: ack deadline must be within 10..600 s")
            pushed = next(
                (f for f in self.functions if sub.push and f.name == sub.push.function), None
            )
            if pushed is not None and sub.ack_deadline_s < pushed.timeout_s:
                raise ValueError(
                    f"subscription {sub.name}: ack deadline {sub.ack_deadline_s} s is shorter than "
                    f"{pushed.name}'s timeout {pushed.timeout_s} s (redelivered while running)"
                )


SUBSCRIPTION_EVENTS = "subscription-events"
RENEWAL_TICKS = "renewal-ticks"
RENEWAL_CHARGES = "renewal-charges"
PLAY_NOTIFICATIONS = "play-notifications"
OUTBOX_SWEEPS = "outbox-sweeps"
FEATURE_SNAPSHOTS = "feature-snapshots"
EXPORT_FLUSHES = "export-flushes"
CHURN_EXPORT_SUBSCRIPTION = "churn-export"  # pull: the queue each export flush drains
ANALYTICS_DATASET = "refrain_analytics"

# The domain events that lead to a customer e-mail (receipt, credit note, notices).
RECEIPT_EVENT_TYPES = (
    "invoice.paid",
    "charge.refunded",
    "charge.dispute_closed",  # a lost one: a credit note
    "payment.failed",
    "subscription.on_hold",
    "subscription.expired",
    "subscription.plan_change_declined",
    "subscription.price_change_scheduled",
)


# Timeouts chosen per function (docs/OPERATIONS.md "Functions"): the webhook answers
# providers within seconds; a renewal tick pages through due subscriptions; the feature
# snapshot runs a BigQuery job. Pub/Sub's ack deadline is at most 600 s.
_FUNCTIONS = (
    Function("checkout_webhook", "checkout_webhook", "checkout_webhook", "http", public=True,
             timeout_s=30),
    Function("outbox_sweep", "checkout_webhook", "outbox_sweep", "cloudevent", timeout_s=120),
    # The subscriber's side (refrain.account): Firebase ID tokens, one read per entitlement.
    Function("account_api", "account_api", "account_api", "http", public=True, timeout_s=30),
    Function("renewal_tick", "renewal_trigger", "renewal_tick", "cloudevent", timeout_s=300),
    Function("renewal_charge", "renewal_trigger", "renewal_charge", "cloudevent", timeout_s=120),
    Function("receipt_email", "receipt_email", "receipt_email", "cloudevent", timeout_s=120),
    # Each export-flush tick pulls a batch from churn-export and writes it in batched MERGEs;
    # main.py keeps the per-message push entry point `churn_export` for low volume.
    Function("churn_export", "churn_export", "export_flush", "cloudevent", timeout_s=120),
    Function("feature_snapshot", "churn_export", "feature_snapshot", "cloudevent",
             timeout_s=540),
)  # fmt: skip
_TIMEOUTS = {f.name: f.timeout_s for f in _FUNCTIONS}


def _dlq(name: str) -> str:
    return f"{name}-dead-letter"


def _subscription(name: str, topic: str, push: PushTarget | None, **kw: object) -> Subscription:
    """A consumer; a push subscription's ack deadline covers its function's timeout."""
    if push is not None:
        kw.setdefault("ack_deadline_s", _TIMEOUTS[push.function])
    return Subscription(name=name, topic=topic, dead_letter_topic=_dlq(name), push=push, **kw)  # type: ignore[arg-type]


_CONSUMERS = (
    _subscription(
        "receipt-email",
        SUBSCRIPTION_EVENTS,
        PushTarget("receipt_email"),
        filter=" OR ".join(f'attributes.type = "{t}"' for t in RECEIPT_EVENT_TYPES),
    ),
    # Pull, not push: the churn_export function drains it in batches on each export flush.
    # Unordered: rows are keyed by signal_id, and ordering would cap a pull at one
    # outstanding message per subscription.
    # Its drainer acks a batch within its own timeout.
    _subscription(
        CHURN_EXPORT_SUBSCRIPTION,
        SUBSCRIPTION_EVENTS,
        None,
        ordering=False,
        ack_deadline_s=_TIMEOUTS["churn_export"],
    ),
    _subscription("export-flush", EXPORT_FLUSHES, PushTarget("churn_export"), ordering=False),
    _subscription("renewal-tick", RENEWAL_TICKS, PushTarget("renewal_tick"), ordering=False),
    _subscription("renewal-charge", RENEWAL_CHARGES, PushTarget("renewal_charge")),
    _subscription("outbox-sweep", OUTBOX_SWEEPS, PushTarget("outbox_sweep"), ordering=False),
    _subscription(
        "feature-snapshot", FEATURE_SNAPSHOTS, PushTarget("feature_snapshot"), ordering=False
    ),
    _subscription(
        "play-notifications-push",
        PLAY_NOTIFICATIONS,
        PushTarget("checkout_webhook", "/google-play"),
        ordering=False,
    ),
)

_BASE_TOPICS = (
    SUBSCRIPTION_EVENTS,
    RENEWAL_TICKS,
    RENEWAL_CHARGES,
    PLAY_NOTIFICATIONS,
    OUTBOX_SWEEPS,
    FEATURE_SNAPSHOTS,
    EXPORT_FLUSHES,
)

# Cloud Scheduler publishes to these topics (see terraform/); the payload is ignored.
SCHEDULED_TOPICS = {
    RENEWAL_TICKS: "every 5 minutes",
    OUTBOX_SWEEPS: "every 1 minutes",
    FEATURE_SNAPSHOTS: "every day 02:00 UTC",
    EXPORT_FLUSHES: "every 1 minutes",
}


def _columns(fields: tuple[tuple[str, str, str, str], ...]) -> tuple[Column, ...]:
    return tuple(Column(n, t, m, d) for n, t, m, d in fields)  # type: ignore[arg-type]


@functools.cache
def _churn_tables() -> tuple[Table, ...]:
    """The analytics tables, generated from the pydantic row models (refrain.churn.rows,
    refrain.experiments.exposure; no Google import), on first use: a function that never
    touches BigQuery never builds them."""
    from refrain.churn import rows
    from refrain.experiments import exposure

    signals = Table(
        name=rows.SIGNALS_TABLE,
        description="One row per subscription lifecycle signal (signal_id unique); pseudonymous.",
        partition_field="occurred_at",
        clustering=("market", "signal_type"),
        columns=_columns(rows.bigquery_fields(rows.SignalRow)),
    )
    features = Table(
        name=rows.SNAPSHOT_TABLE,
        description="Daily churn-model features per subscriber; a re-run replaces its day.",
        partition_field="snapshot_date",
        clustering=("market",),
        columns=_columns(rows.bigquery_fields(rows.FeatureRow)),
    )
    # Written by the same export flush as the signals (refrain.experiments.exposure).
    exposures = Table(
        name=exposure.EXPOSURES_TABLE,
        description=(
            "One row per experiment and unit: its first exposure and variant; pseudonymous."
        ),
        partition_field="exposed_at",
        clustering=("experiment_key", "subscriber_key"),
        columns=_columns(rows.bigquery_fields(exposure.ExposureRow)),
    )
    return signals, features, exposures


TOPOLOGY = Topology(
    topics=tuple(Topic(n) for n in _BASE_TOPICS)
    + tuple(Topic(s.dead_letter_topic, retention_days=7) for s in _CONSUMERS),
    subscriptions=_CONSUMERS,
    datasets=(Dataset(ANALYTICS_DATASET, _churn_tables),),
    functions=_FUNCTIONS,
)
TOPOLOGY.validate()


def dead_letter_hold_subscription(dead_letter_topic: str) -> str:
    """Pull subscription that keeps dead letters for `refrain dlq list|replay`."""
    return f"{dead_letter_topic}-hold"
