"""Alerts that can fire: Terraform's log filters against the outcomes the code logs.

A log-based metric counts lines by their `outcome` label; the label values are the
code's constants. An alert filtering on an outcome no code logs never fires, and
nobody notices until the money is gone (the renewal alert once counted
`payment_failed` while the worker logs `declined`). And a first apply fails when
an alert is created before Monitoring knows its metric, so each alert on one of our
metrics waits (time_sleep) on that metric.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from refrain.ingest.parking import PARKING_SWEPT
from refrain.renewals.worker import CHARGE_OUTCOMES, DECLINED
from refrain_tools.infra.hclcheck import TfDir, _walk_strings, load_dir

Check = Callable[[Path], list[str]]
LOGGED_OUTCOMES = frozenset({*CHARGE_OUTCOMES, PARKING_SWEPT})
_COMPARED = re.compile(r'(?:labels|metric\.label)\.outcome\s*=\s*(\([^)]*\)|"[^"]*")')
_QUOTED = re.compile(r'"([^"]*)"')
_USER_METRIC = re.compile(r"logging\.googleapis\.com/user/\$\{google_logging_metric\.(\w+)\.name\}")


def outcomes_named(text: str) -> set[str]:
    """Every outcome a filter compares `labels.outcome` / `metric.label.outcome` with."""
    return {v for match in _COMPARED.findall(text) for v in _QUOTED.findall(match)}


def _filter_text(block_body: dict[str, object]) -> str:
    return " ".join(_walk_strings(block_body)).replace('\\"', '"')


def check_alert_outcomes(root: Path) -> list[str]:
    """Each outcome a filter names is one the code logs; the renewal metric counts the
    charge outcomes and its alert the declines."""
    tfdir = load_dir(root)
    problems = []
    for block in tfdir.blocks:
        unknown = outcomes_named(_filter_text(block.body)) - LOGGED_OUTCOMES
        if unknown:
            problems.append(f"{block.type}.{block.name}: no code logs outcome {sorted(unknown)}")
    renewal = tfdir.resource("google_logging_metric", "renewal_outcomes")
    if renewal is None or outcomes_named(_filter_text(renewal.body)) != set(CHARGE_OUTCOMES):
        problems.append(f"google_logging_metric.renewal_outcomes: counts not {CHARGE_OUTCOMES}")
    alert = tfdir.resource("google_monitoring_alert_policy", "renewal_failures")
    if alert is None or outcomes_named(_filter_text(alert.body)) != {DECLINED}:
        problems.append(f"google_monitoring_alert_policy.renewal_failures: not on {DECLINED!r}")
    return problems


def check_alerts_wait_for_metrics(root: Path) -> list[str]:
    """An alert on a log-based metric depends on a time_sleep triggered by that metric."""
    tfdir = load_dir(root)
    problems = []
    for alert in tfdir.resources("google_monitoring_alert_policy"):
        metrics = set(_USER_METRIC.findall(_filter_text(alert.body)))
        if metrics and not metrics <= _waited_on(tfdir, alert.body.get("depends_on")):
            problems.append(f"google_monitoring_alert_policy.{alert.name}: created before "
                            f"Monitoring knows {sorted(metrics)}")  # fmt: skip
    return problems


def _waited_on(tfdir: TfDir, depends_on: object) -> set[str]:
    waited: set[str] = set()
    for ref in depends_on if isinstance(depends_on, list) else []:
        name = str(ref).removeprefix("${").removesuffix("}").removeprefix("time_sleep.")
        sleep = tfdir.resource("time_sleep", name)
        triggers = (sleep.body.get("triggers") if sleep else None) or {}
        for value in triggers.values() if isinstance(triggers, dict) else []:
            waited.update(re.findall(r"google_logging_metric\.(\w+)\.", str(value)))
    return waited


ALL_CHECKS: tuple[Check, ...] = (check_alert_outcomes, check_alerts_wait_for_metrics)
