"""`refrain experiments analyze KEY`: an experiment's readout from its BigQuery exposures."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

REFUSED_EXIT = 2  # a sample-ratio mismatch: the readout is refused


def _as_of(value: str | None) -> datetime:
    """The end of the given UTC day (data up to and including it); default: now."""
    if value is None:
        return datetime.now(UTC)
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not YYYY-MM-DD", param_hint="--as-of") from exc
    return datetime.combine(day + timedelta(days=1), time(), UTC)


@click.group()
def experiments() -> None:
    """Experiments declared in shared/refrain/experiments/experiments.toml (docs/EXPERIMENTS.md)."""


@experiments.command()
@click.argument("key")
@click.option("--as-of", "as_of", default=None, help="Read data up to the end of this UTC day.")
@click.option("--json", "as_json", is_flag=True, help="Print the readout as JSON.")
@click.option("--config", "config", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Experiments file (default: the shipped experiments.toml).")  # fmt: skip
@click.option("--dataset", default=None, help="BigQuery dataset (default: the analytics one).")
def analyze(
    key: str, as_of: str | None, as_json: bool, config: str | None, dataset: str | None
) -> None:
    """Units, primary metric, lift, SRM, CUPED, sequential test, guardrails and the decision.

    Exposures come from the experiment_exposures table (one per unit, first exposure),
    outcomes from the unit's churn signals after it. A sample-ratio mismatch (p < 0.001)
    refuses the readout and exits 2.
    """
    from refrain.adapters.bigquery import build_bigquery
    from refrain.experiments.config import CONFIG, load_experiments
    from refrain.settings import CloudSettings
    from refrain.topology import ANALYTICS_DATASET
    from refrain_tools.experiments.readout import Refused, analyze, fetch_units

    try:
        experiment = load_experiments(Path(config) if config else CONFIG).get(key)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from exc
    until = _as_of(as_of)
    client = build_bigquery(CloudSettings())
    units = fetch_units(client, experiment, until, dataset or ANALYTICS_DATASET)
    if not units:
        raise click.ClickException(f"no exposures for {key} before {until.isoformat()}")
    try:
        readout = analyze(experiment, units, until)
    except Refused as refused:
        click.echo(json.dumps(refused.to_json(), indent=2) if as_json else _refused(refused))
        raise SystemExit(REFUSED_EXIT) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(readout.to_json(), indent=2) if as_json else render(readout))


def _refused(refused: Any) -> str:
    lines = [f"{refused.experiment}: READOUT REFUSED, {refused}"]
    total = sum(refused.counts.values())
    for variant, units in refused.counts.items():
        expected = total * refused.weights[variant]
        lines.append(f"  {variant:<12} units {units:>8,}  expected {expected:>10,.0f}")
    lines.append("  Fix the assignment or the exposure logging first (docs/EXPERIMENTS.md).")
    return "\n".join(lines)


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%" if math.isfinite(x) else "n/a"


def render(r: Any) -> str:
    """The readout as text (``r``: a :class:`refrain_tools.experiments.readout.Readout`)."""
    out = [
        f"{r.experiment} v{r.version}, data up to {r.as_of}",
        f"sample ratio: p = {r.srm_p:.3f} (refused below 0.001): ok",
        f"sequential test: Pocock boundary |z| >= {r.primary[0].boundary} "
        f"for {r.planned_looks} planned look(s)",
        "",
        f"{'variant':<12} {'units':>8} {'planned':>8}  {r.primary_metric} (95% CI)",
    ]
    for v in r.variants:
        out.append(f"{v.variant:<12} {v.units:>8,} {v.planned_share:>7.1%}  "
                   f"{v.mean:.4f} [{v.ci_low:.4f}, {v.ci_high:.4f}]")  # fmt: skip
    out.append("")
    for e in r.primary:
        label = "CUPED" if e.cuped else "raw  "
        extra = f", variance removed {e.variance_removed:.1%}" if e.cuped else ""
        out.append(
            f"{e.treatment} vs control ({label}): difference {e.difference:+.4f} "
            f"[{e.ci_low:+.4f}, {e.ci_high:+.4f}], lift {_pct(e.lift)} "
            f"[{_pct(e.lift_low)}, {_pct(e.lift_high)}], z = {e.z:.2f}"
            f"{' significant' if e.significant else ''}{extra}"
        )
    if r.guardrails:
        out.append("")
        out.append("guardrails (non-inferiority):")
    for g in r.guardrails:
        verdict = "WORSE" if g.harmful else "not shown yet" if g.inferior else "non-inferior"
        interval = f"[{_pct(g.lift_low)}, {_pct(g.lift_high)}]"
        out.append(f"  {g.metric} ({g.direction}, margin {g.margin:.0%}) {g.treatment}: "
                   f"lift {_pct(g.lift)} {interval}: {verdict}")  # fmt: skip
    out += ["", f"decision: {r.decision}", *(f"  {reason}" for reason in r.reasons)]
    return "\n".join(out)
