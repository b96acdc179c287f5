"""Structural check of terraform/edge.tf: Cloud Armor in front of the account API.

What must hold whenever ``account_api.edge`` is set: every load-balancer resource exists
only then; the backend service carries the security policy; the policy bans per client
IP over the limit with a 429; the function takes traffic only through the load balancer
(so the armor cannot be bypassed) and reads the client address two hops from the end of
X-Forwarded-For, where Google's load balancer puts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from refrain_tools.infra.hclcheck import load_tree

GATE = "${local.account_edge ? 1 : 0}"
POLICY = "${google_compute_security_policy.account_api[0].id}"
BEHIND = '${each.key == "account_api" && local.account_edge}'
HOPS = '${local.account_edge ? "2" : null}'


def _all(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check_edge(root: Path) -> list[str]:
    problems: list[str] = []
    tree = load_tree(root)[""]
    edge = [b for b in tree.resources() if b.type.startswith("google_compute_")]
    if not edge:
        return ["root: no Cloud Armor edge (terraform/edge.tf) in front of the account API"]
    for block in edge:
        if block.body.get("count") != GATE:
            problems.append(f"root: {block.type}.{block.name} is not gated on account_api.edge")
    backend = tree.resource("google_compute_backend_service", "account_api")
    if backend is None or backend.body.get("security_policy") != POLICY:
        problems.append("root: the account API's backend service has no security policy")
    policy = tree.resource("google_compute_security_policy", "account_api")
    rules = _all(policy.body.get("rule", [])) if policy else []
    bans = [
        r
        for r in rules
        if r.get("action") == "rate_based_ban"
        and any(
            o.get("exceed_action") == "deny(429)" and o.get("enforce_on_key") == "IP"
            for o in _all(r.get("rate_limit_options", []))
        )
    ]
    if not bans:
        problems.append("root: the security policy has no per-IP rate-based ban answering 429")
    call = tree.module("function")
    if call is None or call.body.get("behind_load_balancer") != BEHIND:
        problems.append("root: module.function is not put behind the load balancer with the edge")
    hops = tree.locals.get("settings", {}).get("REFRAIN_TRUSTED_PROXY_HOPS")
    if hops != HOPS:
        problems.append(f"root: REFRAIN_TRUSTED_PROXY_HOPS is {hops!r}, not 2 behind the edge")
    return problems
