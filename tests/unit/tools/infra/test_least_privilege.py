"""Each function's project roles are what its adapters need: derived from the code."""

from __future__ import annotations

from pathlib import Path

from refrain_tools.infra import privilegecheck
from tests.support import ROOT
from tests.unit.tools.infra.conftest import edit as _edit


def test_terraform_grants_exactly_what_the_code_needs() -> None:
    assert privilegecheck.check_least_privilege(ROOT) == []


def test_the_roles_follow_the_adapters_each_entry_point_builds() -> None:
    needed = privilegecheck.needed_roles(ROOT)
    assert needed["renewal_tick"] == {"roles/datastore.viewer"}  # shares a source with charges
    assert needed["renewal_charge"] == {"roles/datastore.user"}
    assert needed["feature_snapshot"] == {"roles/bigquery.jobUser"}
    assert needed["churn_export"] == {"roles/bigquery.jobUser"}


def test_a_role_the_code_never_uses_is_caught(broken: Path) -> None:
    """The mistake once shipped: feature_snapshot and churn_export held Firestore access."""
    _edit(
        broken / "functions.tf",
        'project_roles = ["roles/bigquery.jobUser"]',
        'project_roles = ["roles/datastore.viewer", "roles/bigquery.jobUser"]',
    )
    problems = privilegecheck.check_least_privilege(ROOT, broken)
    assert problems == ["churn_export: holds roles/datastore.viewer, which its code never uses"]


def test_a_writer_where_reading_is_enough_is_caught(broken: Path) -> None:
    _edit(
        broken / "functions.tf",
        'project_roles = ["roles/datastore.viewer"]',
        'project_roles = ["roles/datastore.user"]',
    )
    problems = privilegecheck.check_least_privilege(ROOT, broken)
    assert problems == [
        "renewal_tick: holds roles/datastore.user, which its code never uses",
        "renewal_tick: needs roles/datastore.viewer, which Terraform does not grant",
    ]


def test_an_adapter_a_builder_starts_using_changes_the_roles(tmp_path: Path) -> None:
    """The derivation reads the code: a builder importing a writer needs datastore.user."""
    main = tmp_path / "main.py"
    main.write_text(
        "def go(e):\n    return helper()\n\ndef helper():\n    return bootstrap.build_x()\n"
    )
    boot = tmp_path / "bootstrap.py"
    boot.write_text(
        "def build_x():\n    from refrain.adapters.firestore_ledger import FirestoreLedger\n"
        "    return build_y()\n\n"
        "def build_y():\n    from refrain.adapters.bigquery import build_bigquery\n"
    )
    adapters = privilegecheck.adapters_of(boot, privilegecheck.builders_of(main, "go"))
    assert adapters == {"FirestoreLedger", "build_bigquery"}
    assert privilegecheck.roles_for(adapters) == {"roles/datastore.user", "roles/bigquery.jobUser"}
