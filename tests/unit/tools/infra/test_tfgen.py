"""The generated Terraform inputs are current and say what refrain.topology says."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from refrain.topology import (
    SCHEDULED_TOPICS,
    TOPOLOGY,
    Column,
    Dataset,
    Table,
    Topology,
    dead_letter_hold_subscription,
)
from refrain_tools.infra import tfgen
from refrain_tools.infra.firestore_spec import COMPOSITE_INDEXES, INDEX_EXEMPTIONS, TTL_FIELDS
from tests.support import ROOT


def _committed() -> dict[str, object]:
    doc: dict[str, object] = json.loads((ROOT / tfgen.TOPOLOGY_JSON).read_text("utf-8"))
    return doc


def test_committed_files_are_current() -> None:
    stale = tfgen.stale_files(ROOT)
    assert stale == [], f"out of date: {stale}; run {tfgen.REGENERATE}"


def test_committed_topology_mirrors_the_declared_one() -> None:
    doc = _committed()
    assert {t["name"] for t in doc["topics"]} == TOPOLOGY.topic_names()  # type: ignore[attr-defined]
    subs = {s["name"]: s for s in doc["subscriptions"]}  # type: ignore[attr-defined]
    assert set(subs) == {s.name for s in TOPOLOGY.subscriptions}
    for sub in TOPOLOGY.subscriptions:
        got = subs[sub.name]
        assert got["topic"] == sub.topic
        assert got["dead_letter_topic"] == sub.dead_letter_topic
        assert got["max_delivery_attempts"] == sub.max_delivery_attempts
        assert got["ordering"] == sub.ordering
        assert got["filter"] == sub.filter
        assert got["hold_subscription"] == dead_letter_hold_subscription(sub.dead_letter_topic)
        push = (sub.push.function, sub.push.path) if sub.push else (None, None)
        assert (got["push_function"], got["push_path"]) == push  # None, None: a pull queue
    fns = {f["name"]: f for f in doc["functions"]}  # type: ignore[attr-defined]
    assert set(fns) == {f.name for f in TOPOLOGY.functions}
    for fn in TOPOLOGY.functions:
        assert (fns[fn.name]["public"], fns[fn.name]["entry_point"]) == (fn.public, fn.entry_point)
        assert fns[fn.name]["source"] == fn.source
    assert {s["topic"] for s in doc["scheduled"]} == set(SCHEDULED_TOPICS)  # type: ignore[attr-defined]
    tables = {(t["dataset"], t["name"]): t for t in doc["tables"]}  # type: ignore[attr-defined]
    assert set(tables) == {(d.name, t.name) for d in TOPOLOGY.datasets for t in d.tables}
    for dataset in TOPOLOGY.datasets:
        for table in dataset.tables:
            entry = tables[(dataset.name, table.name)]
            assert entry["partition_field"] == table.partition_field
            assert entry["clustering"] == list(table.clustering)
            schema = json.loads((ROOT / tfgen.SCHEMA_DIR / entry["schema_file"]).read_text())
            assert [c["name"] for c in schema] == [c.name for c in table.columns]


def test_firestore_spec_is_in_the_document() -> None:
    doc = _committed()["firestore"]
    # Compared with firestore_spec's own declaration: the spec is the one place that names
    # the fields (the renewal tick's query index changes with its query, on purpose).
    assert doc["indexes"] == [  # type: ignore[index]
        {
            "collection": i.collection,
            "fields": [{"field_path": f.field_path, "order": f.order} for f in i.fields],
        }
        for i in COMPOSITE_INDEXES
    ]
    assert any(i["collection"] == "subscriptions" for i in doc["indexes"])  # type: ignore[index]
    assert doc["ttl_fields"] == [  # type: ignore[index]
        {"collection": t.collection, "field": t.field} for t in TTL_FIELDS
    ]
    assert doc["index_exemptions"] == [  # type: ignore[index]
        {"collection": e.collection, "field": e.field} for e in INDEX_EXEMPTIONS
    ]


def test_an_exempt_field_is_never_a_ttl_field_nor_a_query_of_its_own() -> None:
    """Terraform has one google_firestore_field per field; and production refuses a query
    that needs a dropped single-field index (the emulator would not): a query may name an
    exempt field only where a composite index holds it behind another field."""
    exempt = {(e.collection, e.field) for e in INDEX_EXEMPTIONS}
    assert not exempt & {(t.collection, t.field) for t in TTL_FIELDS}
    composite = {f.field_path for i in COMPOSITE_INDEXES for f in i.fields[1:]}
    sources = "\n".join(p.read_text() for p in (ROOT / "shared" / "refrain").rglob("*.py"))
    queried = set(re.findall(r'(?:FieldFilter|order_by)\(\s*"([a-z_.]+)"', sources))
    for _, field in exempt:
        assert field not in queried or field in composite, field


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every 5 minutes", "*/5 * * * *"),
        ("every 1 minutes", "* * * * *"),
        ("every 1 minute", "* * * * *"),
        ("every 2 hours", "0 */2 * * *"),
        ("every day 02:00 UTC", "0 2 * * *"),
        ("every day 23:45 UTC", "45 23 * * *"),
    ],
)
def test_schedules_become_unix_cron(text: str, cron: str) -> None:
    assert tfgen.to_cron(text) == cron


@pytest.mark.parametrize(
    "text", ["every 0 minutes", "every 60 minutes", "every day 24:00 UTC", "hourly", ""]
)
def test_unsupported_schedules_are_refused_clearly(text: str) -> None:
    with pytest.raises(tfgen.ScheduleError, match=r"schedule|range"):
        tfgen.to_cron(text)


def test_scheduled_topic_must_exist() -> None:
    with pytest.raises(ValueError, match="scheduled topics not in the topology"):
        tfgen.topology_document(TOPOLOGY, {"no-such-topic": "every 5 minutes"})


def test_schema_uses_the_names_bigquery_reports() -> None:
    table = Table(
        "t",
        (Column("n", "INT64", "REQUIRED", "a count"), Column("b", "BOOL"), Column("j", "JSON")),
    )
    assert tfgen.table_schema(table) == [
        {"name": "n", "type": "INTEGER", "mode": "REQUIRED", "description": "a count"},
        {"name": "b", "type": "BOOLEAN", "mode": "NULLABLE"},
        {"name": "j", "type": "JSON", "mode": "NULLABLE"},
    ]


def _copy_generated(tmp_path: Path) -> Path:
    """The committed generated files (whatever they are) in a scratch checkout."""
    for rel in (tfgen.TOPOLOGY_JSON.parent, tfgen.SCHEMA_DIR):
        shutil.copytree(ROOT / rel, tmp_path / rel)
    return tmp_path


def test_a_changed_topology_makes_the_files_stale_until_regenerated(tmp_path: Path) -> None:
    root = _copy_generated(tmp_path)
    extra = Table("feature_snapshots", (Column("snapshot_date", "DATE", "REQUIRED"),))
    changed = Topology(
        TOPOLOGY.topics,
        TOPOLOGY.subscriptions,
        (Dataset(TOPOLOGY.datasets[0].name, (*TOPOLOGY.datasets[0].tables, extra)),),
        TOPOLOGY.functions,
    )
    rendered = tfgen.render(changed)
    assert tfgen.stale_files(root, rendered) == sorted(
        [tfgen.TOPOLOGY_JSON, tfgen.SCHEMA_DIR / "feature_snapshots.json"]
    )
    tfgen.write(root, rendered)
    assert tfgen.stale_files(root, rendered) == []
    # Dropping the table again leaves an orphaned schema, which is stale, and write removes it.
    assert tfgen.stale_files(root) == sorted(
        [tfgen.TOPOLOGY_JSON, tfgen.SCHEMA_DIR / "feature_snapshots.json"]
    )
    tfgen.write(root)
    assert tfgen.stale_files(root) == []
    assert not (root / tfgen.SCHEMA_DIR / "feature_snapshots.json").exists()


def test_hand_edits_are_detected(tmp_path: Path) -> None:
    root = _copy_generated(tmp_path)
    path = root / tfgen.TOPOLOGY_JSON
    path.write_text(path.read_text().replace('"public": false', '"public": true', 1))
    assert tfgen.stale_files(root) == [tfgen.TOPOLOGY_JSON]
