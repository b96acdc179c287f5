"""Structural checks of terraform/: they pass on the real tree and catch broken copies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from refrain_tools.infra import hclcheck
from tests.support import ROOT
from tests.unit.tools.infra.conftest import TERRAFORM
from tests.unit.tools.infra.conftest import edit as _edit


@pytest.mark.parametrize("check", hclcheck.ALL_CHECKS, ids=lambda c: c.__name__)
def test_real_tree_passes(check: Callable[[Path], list[str]]) -> None:
    assert check(TERRAFORM) == []


def test_private_function_made_public_and_dead_letter_removed_are_both_caught(
    broken: Path,
) -> None:
    _edit(broken / "functions.tf", "public      = each.value.public", 'public = each.key != ""')
    _edit(
        broken / "modules/subscription/main.tf",
        """  dead_letter_policy {
    dead_letter_topic     = var.dead_letter_topic_id
    max_delivery_attempts = var.max_delivery_attempts
  }
""",
        "",
    )
    problems = hclcheck.run_all(broken)
    assert any("module.function public" in p for p in problems), problems
    assert any("subscription this has no dead-letter policy" in p for p in problems), problems
    assert any("ignores max_delivery_attempts" in p for p in problems), problems


def test_public_flag_flipped_in_generated_topology_is_caught(broken: Path) -> None:
    path = broken / "generated/topology.json"
    text = path.read_text()
    marker = '"name": "receipt_email"'
    head, tail = text.split(marker, 1)
    path.write_text(head + marker + tail.replace('"public": false', '"public": true', 1))
    assert any("public functions are" in p for p in hclcheck.check_only_webhook_public(broken))


def test_extra_all_users_invoker_is_caught(broken: Path) -> None:
    (broken / "leak.tf").write_text(
        """resource "google_cloud_run_v2_service_iam_member" "leak" {
  name   = "receipt-email"
  role   = "roles/run.invoker"
  member = "allUsers"
}
"""
    )
    problems = hclcheck.check_only_webhook_public(broken)
    assert problems == ["root: google_cloud_run_v2_service_iam_member.leak grants allUsers"]


def test_ungated_public_ingress_is_caught(broken: Path) -> None:
    _edit(
        broken / "modules/function/main.tf",
        'ingress_settings      = var.public ? (var.behind_load_balancer ? "ALLOW_INTERNAL_AND_GCLB"'
        ' : "ALLOW_ALL") : "ALLOW_INTERNAL_ONLY"',
        'ingress_settings      = "ALLOW_ALL"',
    )
    assert any("ingress not gated" in p for p in hclcheck.check_only_webhook_public(broken))


def test_armor_that_can_be_bypassed_is_caught(broken: Path) -> None:
    """Behind Cloud Armor, internet traffic must not reach the function's own URL."""
    _edit(
        broken / "modules/function/main.tf",
        '(var.behind_load_balancer ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL")',
        '(var.behind_load_balancer ? "ALLOW_ALL" : "ALLOW_ALL")',
    )
    assert any("ingress not gated" in p for p in hclcheck.check_only_webhook_public(broken))


def test_shared_service_account_is_caught(broken: Path) -> None:
    _edit(
        broken / "functions.tf",
        'service_account_id    = "fn-${each.value.cloud_name}"',
        'service_account_id    = "refrain-functions"',
    )
    problems = hclcheck.check_functions_have_own_service_account(broken)
    assert problems == ["root: service_account_id is not derived from each function's name"]


def test_secret_value_in_terraform_is_caught(broken: Path) -> None:
    (broken / "leak.tf").write_text(
        """resource "google_secret_manager_secret_version" "stripe" {
  secret      = google_secret_manager_secret.this["STRIPE_API_KEY"].id
  secret_data = "sk_live_51Habcdefghijklmnopqrstuv"
}
"""
    )
    problems = hclcheck.check_no_inline_secrets(broken)
    assert any("secret version stripe" in p for p in problems)
    assert any("has secret_data" in p for p in problems)
    assert any("secret-looking literal sk_live_" in p for p in problems)


def test_secret_passed_as_plain_env_is_caught(broken: Path) -> None:
    _edit(
        broken / "environments/dev.tfvars",
        "function_env = {",
        'function_env = {\n  STRIPE_API_KEY = "placeholder"',
    )
    problems = hclcheck.check_no_inline_secrets(broken)
    assert problems == ["environments/dev.tfvars: STRIPE_API_KEY belongs in Secret Manager"]


def test_hardcoded_iteration_and_missing_settings_are_caught(broken: Path) -> None:
    _edit(broken / "pubsub.tf", "for_each = local.subscriptions", 'for_each = toset(["a"])')
    _edit(broken / "functions.tf", "    feature_snapshot = {", "    feature_snapshot_old = {")
    problems = hclcheck.check_iterates_topology(broken)
    assert "root: module subscription does not iterate over local.subscriptions" in problems
    assert any(p.startswith("root: function_settings") for p in problems)


def test_server_threads_off_concurrency_or_dropped_are_caught(broken: Path) -> None:
    module = broken / "modules" / "function" / "main.tf"
    _edit(module, "THREADS = tostring(var.concurrency)", 'THREADS = "4"')
    _edit(module, "merge(var.environment, local.server_env)", "var.environment")
    problems = hclcheck.check_server_threads(broken)
    assert len(problems) == 2
    assert "is not" in problems[0] and "lacks local.server_env" in problems[1]


def test_function_outside_the_module_is_caught(broken: Path) -> None:
    (broken / "extra.tf").write_text(
        """resource "google_cloudfunctions2_function" "adhoc" {
  name     = "adhoc"
  location = "europe-west1"
}
"""
    )
    problems = hclcheck.check_functions_have_own_service_account(broken)
    assert problems == ["root: function adhoc outside modules/function"]


def test_cloud_build_applies_only_on_main_after_plan_and_tests() -> None:
    yaml = pytest.importorskip("yaml")
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    steps = {s["id"]: s for s in build["steps"]}
    order = [s["id"] for s in build["steps"]]
    for needed in ("install", "lint", "typecheck", "test", "package", "terraform-fmt"):
        assert needed in steps
    for needed in ("terraform-init", "terraform-validate", "terraform-plan", "terraform-apply"):
        assert needed in steps
    assert order.index("terraform-plan") < order.index("terraform-apply")
    assert "package" in steps["terraform-plan"]["waitFor"]
    apply_script = " ".join(steps["terraform-apply"]["args"])
    assert '"${BRANCH_NAME}" = "main"' in apply_script and "tfplan" in apply_script
    # a pull request's plan never takes the state lock (its account may not write state)
    plan_script = " ".join(steps["terraform-plan"]["args"])
    assert "lock=false" in plan_script and "-lock=$$lock" in plan_script
    assert 'if [ "${BRANCH_NAME}" = "main" ]; then lock=true; fi' in plan_script
    assert "CI=true" in build["options"]["env"]
    assert "emulators" in build["substitutions"]["_CLI_IMAGE"]


def test_local_environment_name_in_the_cloud_is_caught(broken: Path) -> None:
    _edit(
        broken / "environments/prod.tfvars",
        "function_env = {",
        'function_env = {\n  REFRAIN_ENVIRONMENT = "dev"',
    )
    problems = hclcheck.check_no_inline_secrets(broken)
    assert problems == [
        "environments/prod.tfvars: REFRAIN_ENVIRONMENT would allow the public local pepper"
    ]


def test_push_config_made_unconditional_is_caught(broken: Path) -> None:
    _edit(
        broken / "modules/subscription/main.tf",
        "for_each = var.push_endpoint == null ? [] : [var.push_endpoint]",
        'for_each = ["always"]',
    )
    assert hclcheck.check_subscription_access(broken) == [
        "modules/subscription: push_config is not present only with a push_endpoint"
    ]


def test_pull_subscription_nobody_drains_is_caught(broken: Path) -> None:
    _edit(broken / "functions.tf", 'subscribes_to = ["churn-export"]', "subscribes_to = []")
    assert hclcheck.check_subscription_access(broken) == [
        "root: pull subscription churn-export is drained by no function"
    ]


def test_pulling_a_push_subscription_or_project_wide_subscriber_is_caught(broken: Path) -> None:
    _edit(
        broken / "functions.tf",
        'subscribes_to = ["churn-export"]',
        'subscribes_to = ["churn-export", "receipt-email"]',
    )
    _edit(
        broken / "functions.tf",
        'subscribes_to = ["churn-export", "receipt-email"]\n'
        '      project_roles = ["roles/bigquery.jobUser"]',
        'subscribes_to = ["churn-export", "receipt-email"]\n'
        '      project_roles = ["roles/bigquery.jobUser", "roles/pubsub.subscriber"]',
    )
    problems = hclcheck.check_subscription_access(broken)
    assert problems == [
        "root: churn_export subscribes to receipt-email, which is not a pull subscription",
        "root: churn_export has roles/pubsub.subscriber on the whole project",
    ]


def test_subscriber_binding_widened_or_invoker_opened_is_caught(broken: Path) -> None:
    _edit(
        broken / "modules/subscription/main.tf",
        'role         = "roles/pubsub.subscriber"\n  member       = each.value',
        'role         = "roles/pubsub.editor"\n  member       = each.value',
    )
    _edit(
        broken / "functions.tf",
        "label => member if contains(local.pushed_functions, each.key)",
        "label => member",
    )
    problems = hclcheck.check_subscription_access(broken)
    assert problems == [
        "modules/subscription: subscriber grants roles/pubsub.editor to ${each.value}",
        "root: module.function invokers are not limited to pushed functions",
    ]
