"""Generate Terraform's view of the topology from `refrain.topology`.

Terraform never restates a topic, subscription, function or table: it reads
`terraform/generated/topology.json` and the BigQuery schemas in
`terraform/modules/analytics/schemas/`, both written here from TOPOLOGY.
`stale_files` tells a test (and CI) when the committed copies are out of date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refrain.topology import (
    SCHEDULED_TOPICS,
    TOPOLOGY,
    Table,
    Topology,
    dead_letter_hold_subscription,
)
from refrain_tools.infra.firestore_spec import COMPOSITE_INDEXES, INDEX_EXEMPTIONS, TTL_FIELDS

TOPOLOGY_JSON = Path("terraform/generated/topology.json")
SCHEMA_DIR = Path("terraform/modules/analytics/schemas")
REGENERATE = ".venv/bin/python scripts/gen_tf_schemas.py"

# BigQuery's REST API reports legacy type names; declaring them avoids a perpetual plan diff.
_LEGACY_TYPES = {"INT64": "INTEGER", "BOOL": "BOOLEAN", "FLOAT64": "FLOAT", "STRUCT": "RECORD"}

_EVERY_MINUTES = re.compile(r"^every (\d+) minutes?$")
_EVERY_HOURS = re.compile(r"^every (\d+) hours?$")
_DAILY = re.compile(r"^every day (\d{2}):(\d{2}) UTC$")


class ScheduleError(ValueError):
    """A SCHEDULED_TOPICS entry this generator cannot turn into unix-cron."""


def to_cron(schedule: str) -> str:
    """Unix-cron for the topology's plain-English schedules (Cloud Scheduler's format)."""
    text = schedule.strip().lower().replace("utc", "UTC")
    if m := _EVERY_MINUTES.match(text):
        n = int(m.group(1))
        if not 1 <= n <= 59:
            raise ScheduleError(f"minutes out of range in {schedule!r}")
        return "* * * * *" if n == 1 else f"*/{n} * * * *"
    if m := _EVERY_HOURS.match(text):
        n = int(m.group(1))
        if not 1 <= n <= 23:
            raise ScheduleError(f"hours out of range in {schedule!r}")
        return "0 * * * *" if n == 1 else f"0 */{n} * * *"
    if m := _DAILY.match(text):
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour > 23 or minute > 59:
            raise ScheduleError(f"time out of range in {schedule!r}")
        return f"{minute} {hour} * * *"
    raise ScheduleError(
        f"unsupported schedule {schedule!r}: use 'every N minutes', 'every N hours' "
        "or 'every day HH:MM UTC'"
    )


def cloud_name(name: str) -> str:
    """Gen2 function (Cloud Run service) names allow hyphens, not underscores."""
    return name.replace("_", "-")


def table_schema(table: Table) -> list[dict[str, str]]:
    """BigQuery JSON schema (the `bq` / Terraform `schema` format) for one declared table."""
    fields = []
    for col in table.columns:
        field = {
            "name": col.name,
            "type": _LEGACY_TYPES.get(col.type, col.type),
            "mode": col.mode,
        }
        if col.description:
            field["description"] = col.description
        fields.append(field)
    return fields


def topology_document(
    topology: Topology = TOPOLOGY, scheduled: Mapping[str, str] = SCHEDULED_TOPICS
) -> dict[str, Any]:
    """Everything Terraform iterates over, as plain JSON."""
    topology.validate()
    dead_letters = {s.dead_letter_topic for s in topology.subscriptions}
    unknown = set(scheduled) - topology.topic_names()
    if unknown:
        raise ValueError(f"scheduled topics not in the topology: {sorted(unknown)}")
    return {
        "_comment": f"Generated from refrain.topology by `{REGENERATE}`; do not edit.",
        "topics": [
            {
                "name": t.name,
                "retention_days": t.retention_days,
                "dead_letter": t.name in dead_letters,
            }
            for t in topology.topics
        ],
        "subscriptions": [
            {
                "name": s.name,
                "topic": s.topic,
                "dead_letter_topic": s.dead_letter_topic,
                "hold_subscription": dead_letter_hold_subscription(s.dead_letter_topic),
                "push_function": s.push.function if s.push else None,
                "push_path": s.push.path if s.push else None,
                "ordering": s.ordering,
                "ack_deadline_s": s.ack_deadline_s,
                "max_delivery_attempts": s.max_delivery_attempts,
                "min_backoff_s": s.min_backoff_s,
                "max_backoff_s": s.max_backoff_s,
                "filter": s.filter,
            }
            for s in topology.subscriptions
        ],
        "functions": [
            {
                "name": f.name,
                "cloud_name": cloud_name(f.name),
                "source": f.source,
                "entry_point": f.entry_point,
                "signature": f.signature,
                "public": f.public,
                "timeout_s": f.timeout_s,
            }
            for f in topology.functions
        ],
        "scheduled": [
            {"topic": topic, "schedule": text, "cron": to_cron(text), "time_zone": "Etc/UTC"}
            for topic, text in sorted(scheduled.items())
        ],
        "tables": [
            {
                "dataset": d.name,
                "name": t.name,
                "description": t.description,
                "partition_field": t.partition_field,
                "clustering": list(t.clustering),
                "schema_file": f"{t.name}.json",
            }
            for d in topology.datasets
            for t in d.tables
        ],
        "datasets": [d.name for d in topology.datasets],
        "firestore": {
            "indexes": [
                {
                    "collection": i.collection,
                    "fields": [{"field_path": f.field_path, "order": f.order} for f in i.fields],
                }
                for i in COMPOSITE_INDEXES
            ],
            "ttl_fields": [{"collection": t.collection, "field": t.field} for t in TTL_FIELDS],
            "index_exemptions": [
                {"collection": e.collection, "field": e.field} for e in INDEX_EXEMPTIONS
            ],
        },
    }


@dataclass(frozen=True)
class Rendered:
    """The generated files (path relative to the repo root -> text)."""

    files: dict[Path, str]
    schema_dir: Path


def _dump(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=False) + "\n"


def render(
    topology: Topology = TOPOLOGY, scheduled: Mapping[str, str] = SCHEDULED_TOPICS
) -> Rendered:
    files = {TOPOLOGY_JSON: _dump(topology_document(topology, scheduled))}
    names = [t.name for d in topology.datasets for t in d.tables]
    if len(set(names)) != len(names):
        raise ValueError("table names must be unique across datasets (one schema file each)")
    for dataset in topology.datasets:
        for table in dataset.tables:
            files[SCHEMA_DIR / f"{table.name}.json"] = _dump(table_schema(table))
    return Rendered(files, SCHEMA_DIR)


def _orphans(root: Path, rendered: Rendered) -> list[Path]:
    schema_dir = root / rendered.schema_dir
    if not schema_dir.is_dir():
        return []
    wanted = {root / p for p in rendered.files}
    return sorted(p for p in schema_dir.glob("*.json") if p not in wanted)


def stale_files(root: Path, rendered: Rendered | None = None) -> list[Path]:
    """Generated files that are missing, different, or no longer declared."""
    rendered = rendered or render()
    stale = [
        rel
        for rel, text in rendered.files.items()
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]
    return sorted(stale + [p.relative_to(root) for p in _orphans(root, rendered)])


def write(root: Path, rendered: Rendered | None = None) -> list[Path]:
    """Write the generated files, remove orphaned schemas; returns what changed."""
    rendered = rendered or render()
    changed = stale_files(root, rendered)
    for orphan in _orphans(root, rendered):
        orphan.unlink()
    for rel, text in rendered.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return changed
