"""Cloud Armor in front of the account API: the real tree passes, broken copies are caught."""

from __future__ import annotations

from pathlib import Path

from refrain_tools.infra.edgecheck import check_edge
from tests.unit.tools.infra.conftest import TERRAFORM
from tests.unit.tools.infra.conftest import edit as _edit


def test_real_tree_passes() -> None:
    assert check_edge(TERRAFORM) == []


def test_a_backend_without_the_policy_is_caught(broken: Path) -> None:
    _edit(
        broken / "edge.tf",
        "security_policy       = google_compute_security_policy.account_api[0].id\n",
        "",
    )
    assert check_edge(broken) == ["root: the account API's backend service has no security policy"]


def test_a_rate_limit_that_only_logs_is_caught(broken: Path) -> None:
    _edit(broken / "edge.tf", 'exceed_action    = "deny(429)"', 'exceed_action    = "allow"')
    assert check_edge(broken) == [
        "root: the security policy has no per-IP rate-based ban answering 429"
    ]


def test_an_ungated_load_balancer_and_a_wrong_hop_count_are_caught(broken: Path) -> None:
    address = 'resource "google_compute_global_address" "account_api" {\n'
    _edit(broken / "edge.tf", address + "  count = local.account_edge ? 1 : 0\n", address)
    _edit(broken / "functions.tf", 'account_edge ? "2" : null', 'account_edge ? "1" : null')
    problems = check_edge(broken)
    assert "root: google_compute_global_address.account_api is not gated on account_api.edge" in (
        problems
    )
    assert any("REFRAIN_TRUSTED_PROXY_HOPS" in p for p in problems), problems
