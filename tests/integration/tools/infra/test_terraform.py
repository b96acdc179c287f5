"""terraform fmt, checkov, and the topology as Terraform itself evaluates it.

`terraform init`/`validate` need the provider registry, which this machine cannot
reach, so they run in Cloud Build only. `terraform console` evaluates
terraform/topology.tf (locals only, no provider) without init: the maps every
resource iterates over are compared with refrain.topology here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from refrain.topology import SCHEDULED_TOPICS, TOPOLOGY, dead_letter_hold_subscription
from refrain_tools.infra import tfgen
from refrain_tools.infra.firestore_spec import COMPOSITE_INDEXES, INDEX_EXEMPTIONS, TTL_FIELDS
from tests.integration.tools.infra.conftest import TERRAFORM_DIR, CheckovReport, terraform_env

CHECKOV_BUDGET_S = 60


def test_terraform_fmt(terraform: str) -> None:
    done = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        env=terraform_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{done.stdout}"


def _evaluate(terraform: str, tmp_path: Path, expression: str) -> Any:
    """Evaluate an expression over topology.tf + the generated JSON, offline."""
    work = tmp_path / "tf"
    (work / "generated").mkdir(parents=True)
    shutil.copy(TERRAFORM_DIR / "topology.tf", work)
    shutil.copy(TERRAFORM_DIR / "generated" / "topology.json", work / "generated")
    done = subprocess.run(
        [terraform, "console"],
        input=f"jsonencode({expression})\n",
        cwd=work,
        env=terraform_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(json.loads(done.stdout.strip()))


def test_terraform_iterates_over_the_local_topology(terraform: str, tmp_path: Path) -> None:
    got = _evaluate(
        terraform,
        tmp_path,
        "{topics = local.topics, subscriptions = local.subscriptions, functions = local.functions,"
        " sources = local.sources, schedules = local.schedules, tables = local.tables,"
        " indexes = local.firestore_indexes, ttl = local.firestore_ttl_fields,"
        " unindexed = local.firestore_index_exemptions}",
    )
    assert set(got["topics"]) == TOPOLOGY.topic_names()
    assert {n: t["retention_days"] for n, t in got["topics"].items()} == {
        t.name: t.retention_days for t in TOPOLOGY.topics
    }
    assert {
        name: (s["topic"], s["dead_letter_topic"], s["max_delivery_attempts"], s["ordering"])
        for name, s in got["subscriptions"].items()
    } == {
        s.name: (s.topic, s.dead_letter_topic, s.max_delivery_attempts, s.ordering)
        for s in TOPOLOGY.subscriptions
    }
    for sub in TOPOLOGY.subscriptions:
        declared = got["subscriptions"][sub.name]
        assert declared["hold_subscription"] == dead_letter_hold_subscription(sub.dead_letter_topic)
        push = (sub.push.function, sub.push.path) if sub.push else (None, None)
        assert (declared["push_function"], declared["push_path"]) == push  # None: pull
        assert (declared["min_backoff_s"], declared["max_backoff_s"]) == (
            sub.min_backoff_s,
            sub.max_backoff_s,
        )
    assert {
        name: (f["public"], f["entry_point"], f["source"], f["signature"])
        for name, f in got["functions"].items()
    } == {f.name: (f.public, f.entry_point, f.source, f.signature) for f in TOPOLOGY.functions}
    assert set(got["sources"]) == {f.source for f in TOPOLOGY.functions}
    assert {t: s["cron"] for t, s in got["schedules"].items()} == {
        t: tfgen.to_cron(text) for t, text in SCHEDULED_TOPICS.items()
    }
    expected_tables = {f"{d.name}.{t.name}": t for d in TOPOLOGY.datasets for t in d.tables}
    assert set(got["tables"]) == set(expected_tables)
    for key, table in expected_tables.items():
        entry = got["tables"][key]
        assert (entry["partition_field"], entry["clustering"]) == (
            table.partition_field,
            list(table.clustering),
        )
        schema = json.loads(
            (TERRAFORM_DIR / "modules/analytics/schemas" / entry["schema_file"]).read_text()
        )
        assert schema == tfgen.table_schema(table)
    assert len(got["indexes"]) == len(COMPOSITE_INDEXES)
    assert set(got["ttl"]) == {f"{t.collection}.{t.field}" for t in TTL_FIELDS}
    assert set(got["unindexed"]) == {f"{e.collection}.{e.field}" for e in INDEX_EXEMPTIONS}


def test_checkov_passes_without_network(checkov_report: CheckovReport) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in checkov_report.failed
    ]
    assert failed == [], "\n".join(failed)
    assert checkov_report.summary["parsing_errors"] == 0
    assert checkov_report.summary["passed"] > 0


def test_checkov_skips_are_justified(checkov_report: CheckovReport) -> None:
    for check in checkov_report.skipped:
        reason = check.get("suppress_comment") or ""
        assert len(reason) > 20, f"{check['check_id']} skipped without a reason"


def test_checkov_stays_within_budget(checkov_report: CheckovReport) -> None:
    assert checkov_report.seconds < CHECKOV_BUDGET_S, f"checkov took {checkov_report.seconds:.0f} s"


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_environment_examples_set_every_required_variable(environment: str) -> None:
    import hcl2

    with (TERRAFORM_DIR / "variables.tf").open() as fh:
        variables = hcl2.load(fh)["variable"]
    required = {
        name.strip('"')
        for block in variables
        for name, body in block.items()
        if "default" not in body
    }
    with (TERRAFORM_DIR / "environments" / f"{environment}.tfvars").open() as fh:
        values = {k.strip('"') for k in hcl2.load(fh)}
    assert required <= values, f"{environment}.tfvars misses {sorted(required - values)}"
