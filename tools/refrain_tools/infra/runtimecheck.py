"""Function run-time settings Terraform must take from the topology, not restate.

A function's timeout and its push subscription's ack deadline are chosen together in
refrain.topology (Topology.validate refuses a deadline shorter than the timeout).
Terraform must read the timeout from the generated topology: a second copy in
functions.tf could drift from the deadline it was chosen with.
"""

from __future__ import annotations

from pathlib import Path

from refrain_tools.infra.hclcheck import load_tree

TIMEOUT_FROM_TOPOLOGY = "${local.functions[each.key].timeout_s}"


def check_timeouts_from_topology(root: Path) -> list[str]:
    top = load_tree(root)[""]
    problems = []
    call = top.module("function")
    if call is None or call.body.get("timeout_seconds") != TIMEOUT_FROM_TOPOLOGY:
        got = None if call is None else call.body.get("timeout_seconds")
        problems.append(f"root: module.function timeout_seconds = {got!r}, not the topology's")
    for name, settings in (top.locals.get("function_settings") or {}).items():
        if "timeout_s" in settings:
            problems.append(f"root: function_settings.{name} restates timeout_s")
    return problems
