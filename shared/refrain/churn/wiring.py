"""Build the churn export from the environment: the composition root.

One place builds the exporter (pepper, pseudonymizer, BigQuery writer) and the
batch flush (exporter + a puller on ``churn-export``), so the deployed
``export_flush`` function, the per-message ``churn_export`` entry point and
``refrain exports flush`` run exactly the same code. Clients are imported
lazily: building nothing costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from refrain.churn.export import ChurnExporter, ExportReport
from refrain.topology import CHURN_EXPORT_SUBSCRIPTION

if TYPE_CHECKING:
    from refrain.adapters.bigquery_signals import SubscriptionPuller
    from refrain.settings import CloudSettings

__all__ = [
    "DEFAULT_FLUSH_MAX",
    "FLUSH_MAX_ENV",
    "BatchFlush",
    "build_exporter",
    "build_flush",
    "flush_max_messages",
]

FLUSH_MAX_ENV: Final = "REFRAIN_EXPORT_FLUSH_MAX"
# One flush = at most this many messages; 5,000 rows are three 2,000-row MERGEs, done
# well within the subscription's 60 s ack deadline and the function's timeout.
DEFAULT_FLUSH_MAX: Final = 5000
_FLUSH_MAX_LIMIT: Final = 100_000


def flush_max_messages(env: Mapping[str, str]) -> int:
    """``REFRAIN_EXPORT_FLUSH_MAX`` (default 5000); anything but 1..100000 is refused."""
    raw = env.get(FLUSH_MAX_ENV, "").strip()
    if not raw:
        return DEFAULT_FLUSH_MAX
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{FLUSH_MAX_ENV}={raw!r} is not a whole number") from None
    if not 1 <= value <= _FLUSH_MAX_LIMIT:
        raise ValueError(f"{FLUSH_MAX_ENV}={value} must be within 1..{_FLUSH_MAX_LIMIT}")
    return value


def build_exporter(cloud: CloudSettings | None = None) -> ChurnExporter:
    """Exporter writing to BigQuery; raises ``MissingPepper`` outside local/test without one."""
    from refrain.adapters.bigquery import build_bigquery
    from refrain.adapters.bigquery_signals import SignalWriter
    from refrain.churn.pseudonym import Pseudonymizer, load_pepper
    from refrain.churn.transform import SignalTransformer
    from refrain.settings import CloudSettings

    cloud = cloud or CloudSettings()
    pepper = load_pepper(local=cloud.is_local or bool(cloud.bigquery_endpoint))
    return ChurnExporter(
        SignalTransformer(Pseudonymizer(pepper)), SignalWriter(build_bigquery(cloud))
    )


@dataclass(frozen=True)
class BatchFlush:
    """The batch path: pull a batch, write its signals in batched MERGEs, ack / nack.

    Keeps its clients, so a function instance reuses them across invocations.
    """

    exporter: ChurnExporter
    puller: SubscriptionPuller

    def __call__(self, max_messages: int) -> ExportReport:
        from refrain.adapters.bigquery_signals import flush

        return flush(self.puller, self.exporter, max_messages)

    def close(self) -> None:
        self.puller.close()


def build_flush(
    subscription: str = CHURN_EXPORT_SUBSCRIPTION, cloud: CloudSettings | None = None
) -> BatchFlush:
    """The flush over ``subscription``; pepper checked before any client is opened."""
    from refrain.adapters.bigquery_signals import SubscriptionPuller
    from refrain.settings import CloudSettings

    cloud = cloud or CloudSettings()
    exporter = build_exporter(cloud)
    return BatchFlush(exporter, SubscriptionPuller(cloud.project, subscription))
