"""The side-by-side figures as one Markdown table (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.closed_loop import LoadResult

HEADER = (
    "side",
    "conc",
    "events",
    "events/s",
    "p50 ms",
    "p99 ms",
    "app CPU ms/event",
    "store CPU ms/event",
    "DB operations/event",
    "HTTP status",
)


@dataclass(frozen=True)
class Row:
    side: str
    load: LoadResult
    app_cpu_s: float | None
    store_cpu_s: float | None
    db_ops: str

    def cells(self) -> tuple[str, ...]:
        n = max(1, self.load.sent)
        return (
            self.side,
            str(self.load.concurrency),
            f"{self.load.sent:,}",
            f"{self.load.events_per_s:.1f}",
            f"{self.load.latency_ms(50):.1f}" if self.load.sent else "-",
            f"{self.load.latency_ms(99):.1f}" if self.load.sent else "-",
            per_event_ms(self.app_cpu_s, n),
            per_event_ms(self.store_cpu_s, n),
            self.db_ops,
            status_text(self.load.status),
        )


def per_event_ms(seconds: float | None, events: int) -> str:
    return "-" if seconds is None else f"{seconds / max(1, events) * 1000:.1f}"


def status_text(status: Mapping[str, int]) -> str:
    return ", ".join(f"{code}: {count:,}" for code, count in sorted(status.items())) or "-"


def ops_text(counts: Mapping[str, float], names: Sequence[str], events: int) -> str:
    """`2.1 reads, 4.0 writes` per event, in the order given; absent counts are 0."""
    return ", ".join(f"{counts.get(n, 0) / max(1, events):.2f} {n}" for n in names)


def cpu_split(row: Row) -> str:
    """The application's CPU per event with its store excluded, with it, and the store's share."""
    n = max(1, row.load.sent)
    if row.app_cpu_s is None or row.store_cpu_s is None:
        return f"{row.side} c={row.load.concurrency}: CPU not measured"
    both = row.app_cpu_s + row.store_cpu_s
    share = row.store_cpu_s / both * 100 if both else 0.0
    return (
        f"{row.side} c={row.load.concurrency}: application {per_event_ms(row.app_cpu_s, n)} ms "
        f"CPU/event with the store excluded, {per_event_ms(both, n)} ms with it "
        f"(the store's share {share:.0f}%)"
    )


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)
