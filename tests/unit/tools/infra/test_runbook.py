"""docs/OPERATIONS.md as a runbook: every command in it parses, and names what exists.

What can be checked without a cloud account is: shell syntax (`bash -n`), the Terraform
outputs, targets and tfvars it names, the secrets it fills (exactly those Terraform
creates), and the `refrain` commands and flags it runs (their own --help).
"""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest
from click.testing import CliRunner

from refrain_tools.cli import main as refrain_cli
from refrain_tools.infra import configcheck
from refrain_tools.infra.hclcheck import load_tree
from tests.support import ROOT

RUNBOOK = (ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```sh\n(.*?)```", RUNBOOK, flags=re.S)
COMMANDS = [
    line.strip()
    for block in BLOCKS
    for line in block.replace("\\\n", " ").splitlines()
    if line.strip() and not line.strip().startswith("#")
]
TERRAFORM = ROOT / "terraform"
# `refrain ...` commands, in shell blocks and inline in the prose.
REFRAIN_COMMANDS = sorted(
    {c for c in COMMANDS if re.match(r"(\.venv/bin/)?refrain ", c)}
    | set(re.findall(r"`((?:\.venv/bin/)?refrain [^`]+)`", RUNBOOK))
)


def _outputs() -> set[str]:
    text = (TERRAFORM / "outputs.tf").read_text(encoding="utf-8")
    return set(re.findall(r'^output "(\w+)"', text, flags=re.M))


def test_the_runbook_has_commands() -> None:
    assert len(BLOCKS) >= 8 and len(COMMANDS) >= 30


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.splitlines()[0][:40])
def test_every_shell_block_parses(block: str) -> None:
    done = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_every_terraform_output_it_reads_exists() -> None:
    named = set(re.findall(r"terraform output (?:-raw |-json )?(\w+)", RUNBOOK))
    assert named, "the runbook reads no Terraform output"
    assert named <= _outputs(), sorted(named - _outputs())


def test_every_target_and_var_file_exists() -> None:
    resources = {f"{b.type}.{b.name}" for b in load_tree(TERRAFORM)[""].resources()}
    targets = set(re.findall(r"-target=([\w.]+)", RUNBOOK))
    assert targets and targets <= resources, sorted(targets - resources)
    for env in ("dev", "prod"):
        assert (TERRAFORM / "environments" / f"{env}.tfvars").is_file()
    assert "-var-file=environments/$ENV.tfvars" in RUNBOOK


def test_the_secrets_it_fills_are_exactly_those_terraform_creates() -> None:
    """Every secret id Terraform creates (with every provider on) gets a value, and the
    runbook fills no secret that does not exist."""
    created = {
        name.lower().replace("_", "-")
        for _, secrets in configcheck.terraform_config(TERRAFORM).values()
        for name in secrets
    }
    filled = set(re.findall(r"gcloud secrets versions add ([\w-]+)", RUNBOOK))
    assert filled == created


@pytest.mark.parametrize("command", REFRAIN_COMMANDS, ids=str)
def test_every_refrain_command_and_flag_exists(command: str) -> None:
    words = shlex.split(command.split("#", maxsplit=1)[0])[1:]
    args = [w for w in words if re.fullmatch(r"[a-z][a-z-]*", w)]  # the command path
    done = CliRunner().invoke(refrain_cli, [*args, "--help"])
    assert done.exit_code == 0, (command, done.output)
    for flag in (w.split("=")[0] for w in words if w.startswith("--")):
        assert flag in done.output, (command, flag)
