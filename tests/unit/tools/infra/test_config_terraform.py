"""Terraform held to the configuration contract: the real tree passes, mistakes are caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from refrain_tools.infra import configcheck
from tests.support import ROOT
from tests.unit.tools.infra.conftest import TERRAFORM
from tests.unit.tools.infra.conftest import edit as _edit

FUNCTIONS_TF = "functions.tf"
CHARGE_ENV = (
    '"GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID", "REFRAIN_PAYMENT_GATEWAY", '
    '"ADYEN_MERCHANT_ACCOUNT", "ADYEN_ENVIRONMENT", "ADYEN_LIVE_PREFIX"'
)


def test_the_real_tree_meets_the_contract() -> None:
    assert configcheck.check_config_contract(TERRAFORM) == []


def test_every_function_is_configured_by_terraform() -> None:
    given = configcheck.terraform_config(TERRAFORM)
    env, secrets = given["renewal_charge"]
    assert {"REFRAIN_PAYMENT_GATEWAY", "ADYEN_ENVIRONMENT", "ADYEN_LIVE_PREFIX"} <= env
    assert secrets == {"STRIPE_API_KEY", "ADYEN_API_KEY", "REFRAIN_SUBSCRIBER_PEPPER"}
    assert "STRIPE_WEBHOOK_SECRET" in given["outbox_sweep"][1]  # same routes as the webhook


def test_a_required_setting_terraform_does_not_give_is_caught(broken: Path) -> None:
    """The mistake once shipped: renewals ran against the sandbox."""
    _edit(broken / FUNCTIONS_TF, CHARGE_ENV, CHARGE_ENV.replace('"REFRAIN_PAYMENT_GATEWAY", ', ""))
    problems = configcheck.check_config_contract(broken)
    assert (
        "renewal_charge: requires REFRAIN_PAYMENT_GATEWAY, which Terraform does not give it"
        in problems
    )


def test_renewal_charge_without_the_pepper_is_caught(broken: Path) -> None:
    """The dunning experiment's unit is the subscriber key: no pepper, no retry choice."""
    _edit(broken / FUNCTIONS_TF, '["REFRAIN_SUBSCRIBER_PEPPER"], local.stripe', "local.stripe")
    problems = configcheck.check_config_contract(broken)
    assert any(
        p.startswith("renewal_charge: requires REFRAIN_SUBSCRIBER_PEPPER") for p in problems
    ), problems


def test_a_conditional_setting_left_out_is_caught(broken: Path) -> None:
    _edit(broken / FUNCTIONS_TF, CHARGE_ENV, CHARGE_ENV.replace(', "ADYEN_LIVE_PREFIX"', ""))
    problems = configcheck.check_config_contract(broken)
    assert "renewal_charge: with every provider on, ADYEN_LIVE_PREFIX is required" in problems


def test_a_setting_a_function_never_reads_is_caught(broken: Path) -> None:
    """The mistake once shipped: feature_snapshot held the pepper it never uses."""
    _edit(
        broken / FUNCTIONS_TF,
        'env           = ["GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID"]\n      secrets       = []',
        'env           = ["GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID"]\n'
        '      secrets       = ["REFRAIN_SUBSCRIBER_PEPPER"]',
    )
    problems = configcheck.check_config_contract(broken)
    assert problems == [
        "renewal_tick: Terraform sets REFRAIN_SUBSCRIBER_PEPPER, which it never reads"
    ]


def test_a_secret_in_plain_environment_is_caught(broken: Path) -> None:
    _edit(broken / FUNCTIONS_TF, CHARGE_ENV, CHARGE_ENV + ', "ADYEN_API_KEY"')
    problems = configcheck.check_config_contract(broken)
    assert any("ADYEN_API_KEY is a secret but Terraform sets it in plain" in p for p in problems)


def test_configuration_doc_is_generated_and_current() -> None:
    doc = (ROOT / configcheck.DOC).read_text(encoding="utf-8")
    assert doc == configcheck.render_markdown(), "run .venv/bin/python scripts/gen_tf_schemas.py"
    assert "| `REFRAIN_PAYMENT_GATEWAY` |  | **required** |" in doc


@pytest.mark.parametrize("function", ["renewal_charge", "checkout_webhook"])
def test_every_setting_terraform_defines_has_a_reader(function: str) -> None:
    reads = configcheck.settings_read(function)
    env, secrets = configcheck.terraform_config(TERRAFORM)[function]
    assert (env | secrets) - set(reads) <= {"LOG_EXECUTION_ID"}
