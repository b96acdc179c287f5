"""A relay that records what it published (or fails like Pub/Sub down)."""

from __future__ import annotations

from dataclasses import dataclass, field

from refrain.domain.events import DomainEvent


@dataclass
class RecordingRelay:
    fail: bool = False
    published: list[tuple[str, tuple[DomainEvent, ...]]] = field(default_factory=list)
    traces: list[str | None] = field(default_factory=list)

    def publish(
        self, outbox_id: str, events: tuple[DomainEvent, ...], trace: str | None = None
    ) -> bool:
        if self.fail:
            raise ConnectionError("pubsub down")
        self.published.append((outbox_id, events))
        self.traces.append(trace)
        return True
