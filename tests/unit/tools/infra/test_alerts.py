"""Alerts that can fire: they pass on the real tree and catch the mistakes once made."""

from __future__ import annotations

from pathlib import Path

import pytest

from refrain.renewals.worker import CHARGE_OUTCOMES
from refrain_tools.infra import alertcheck, runtimecheck
from tests.unit.tools.infra.conftest import TERRAFORM
from tests.unit.tools.infra.conftest import edit as _edit

MONITORING = "monitoring.tf"


@pytest.mark.parametrize("check", alertcheck.ALL_CHECKS, ids=lambda c: c.__name__)
def test_real_tree_passes(check: alertcheck.Check) -> None:
    assert check(TERRAFORM) == []


def test_an_alert_on_an_outcome_no_code_logs_is_caught(broken: Path) -> None:
    """The mistake once shipped: the renewal alert counted payment_failed."""
    _edit(
        broken / MONITORING,
        'metric.label.outcome=\\"declined\\"',
        'metric.label.outcome=\\"payment_failed\\"',
    )
    problems = alertcheck.check_alert_outcomes(broken)
    assert any("payment_failed" in p and "renewal_failures" in p for p in problems), problems
    assert any("not on 'declined'" in p for p in problems), problems


def test_a_renewal_metric_counting_every_outcome_is_caught(broken: Path) -> None:
    """Counting timer outcomes (applied, stale, ...) dilutes the decline share."""
    _edit(
        broken / MONITORING,
        'labels.outcome=(\\"charged\\" OR \\"declined\\" OR \\"pending_confirmation\\")',
        "labels.outcome:*",
    )
    problems = alertcheck.check_alert_outcomes(broken)
    assert problems == [f"google_logging_metric.renewal_outcomes: counts not {CHARGE_OUTCOMES}"]


def test_an_alert_created_before_its_metric_propagates_is_caught(broken: Path) -> None:
    for _ in range(2):  # both alerts on our metrics
        _edit(
            broken / MONITORING,
            "  depends_on            = [time_sleep.log_metrics_propagate]\n",
            "",
        )
    problems = alertcheck.check_alerts_wait_for_metrics(broken)
    assert len(problems) == 2 and all("created before Monitoring knows" in p for p in problems)


def test_a_sleep_not_triggered_by_the_metric_is_caught(broken: Path) -> None:
    _edit(
        broken / MONITORING,
        "    oldest_parked_event_age = google_logging_metric.oldest_parked_event_age.id\n",
        "",
    )
    problems = alertcheck.check_alerts_wait_for_metrics(broken)
    assert problems == [
        "google_monitoring_alert_policy.parked_events: created before Monitoring knows "
        "['oldest_parked_event_age']"
    ]


def test_outcomes_named_reads_both_filter_forms() -> None:
    text = 'labels.outcome=("a" OR "b") AND metric.label.outcome="c" AND labels.other="d"'
    assert alertcheck.outcomes_named(text) == {"a", "b", "c"}


def test_timeouts_come_from_the_topology(broken: Path) -> None:
    assert runtimecheck.check_timeouts_from_topology(TERRAFORM) == []
    _edit(
        broken / "functions.tf",
        "timeout_seconds = local.functions[each.key].timeout_s",
        "timeout_seconds = 60",
    )
    _edit(
        broken / "functions.tf",
        '      memory        = "512Mi"',
        '      timeout_s = 30\n      memory        = "512Mi"',
    )
    problems = runtimecheck.check_timeouts_from_topology(broken)
    assert problems == [
        "root: module.function timeout_seconds = 60, not the topology's",
        "root: function_settings.checkout_webhook restates timeout_s",
    ]
