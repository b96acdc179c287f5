"""Cold start of every deployed function, and the import cost of each main module.

Usage: .venv/bin/python bench/cold_start.py [--runs 5] [--port-base 8950]

Starts its own local stack (port block --port-base, default REFRAIN_STACK_PORT_BASE
or 8950; state in a temporary folder) and stops it at the end, as bench/webhook.py does.

- Cold start: for each function of refrain.topology.TOPOLOGY.functions, one
  functions-framework process (bench/webhook.py's `serve`, as the demo serves them),
  timed from spawn to the answer of a first request that takes the function's
  real first-request path, the service built on first use:
  checkout_webhook a validly signed Stripe checkout.session.completed (a new
  subscription: verify, audit, transaction, publish); the CloudEvent functions a
  binary-mode Pub/Sub `messagePublished` CloudEvent on their push subscription's
  topic: outbox_sweep and renewal_tick a scheduler tick with nothing to do,
  renewal_charge a due timer of an unknown subscription (one transaction, acked),
  receipt_email an invoice.paid (invoice numbered, HTML + PDF, sent to SES),
  churn_export an export flush with exactly one signal queued (and
  REFRAIN_EXPORT_FLUSH_MAX=1: an idle pull waits 10 s, which is no start-up cost),
  feature_snapshot yesterday's features. Runs go round-robin over the functions, so
  load drifts on a shared machine spread over all of them. The spawn-to-listening wait polls every
  0.1 s (FunctionServers), so each figure may include up to 100 ms of that.
- Import: a fresh interpreter per run, `python -X importtime -c "import main"` in the
  function's source folder: wall time from spawn to `import main` done, and the
  cumulative time -X importtime gives the `main` module.

Prints medians and p90 over --runs; asserts nothing on timing. Exits 1 if a
first request was not answered with 2xx (the figure would not be the real path).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import pull_messages  # noqa: E402
from tests.unit.churn.factory import sample_event  # noqa: E402
from tests.unit.invoicing.factories import invoice_paid  # noqa: E402

from refrain.adapters.firestore import build_firestore  # noqa: E402
from refrain.adapters.firestore_collections import CUSTOMERS  # noqa: E402
from refrain.adapters.pubsub import build_publisher  # noqa: E402
from refrain.domain import Catalog, EventType, load_catalog, to_pubsub_message  # noqa: E402
from refrain.renewals.messages import ChargeMessage, TimerKind  # noqa: E402
from refrain.settings import CloudSettings  # noqa: E402
from refrain.topology import CHURN_EXPORT_SUBSCRIPTION, SUBSCRIPTION_EVENTS, TOPOLOGY, Function  # noqa: E402
from refrain_tools.stack.config import StackConfig  # noqa: E402
from refrain_tools.stack.manager import StackManager  # noqa: E402
from refrain_tools.stack.seed import pointed_at  # noqa: E402
from webhook import SECRET, checkout_event, serve, signed  # noqa: E402

ACCOUNT = "acct_cold_start"
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class Request:
    """The first request a freshly spawned function answers."""

    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Figures:
    cold_ms: list[float]
    statuses: list[int]
    log_dirs: list[Path]


class Probes:
    """Builds each function's first request; a serial keeps every id new, run after run."""

    def __init__(self, cloud: CloudSettings, catalog: Catalog) -> None:
        self.cloud, self.catalog = cloud, catalog
        self.db, self.publisher = build_firestore(cloud), build_publisher(cloud)
        self.serial = int(time.time() * 1000) * 1000

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def prepare(self, fn: Function) -> None:
        """Untimed set-up in this process, so the request finds what its path needs."""
        if fn.name == "receipt_email":
            self.db.collection(CUSTOMERS).document(ACCOUNT).set(
                {"email": "cold@example.com", "name": "Cold Start", "locale": "sv-SE",
                 "market": "SE"}
            )  # fmt: skip
        elif fn.entry_point == "export_flush":
            # Exactly one signal queued: an idle pull waits 10 s, which is no start-up cost.
            pull_messages(self.cloud, CHURN_EXPORT_SUBSCRIPTION, max_messages=1000)
            sid = f"sub_cold_start_{self.next_serial()}"
            message = to_pubsub_message(sample_event(EventType.ACTIVATED, subscription_id=sid))
            topic = self.publisher.topic_path(self.cloud.project, SUBSCRIPTION_EVENTS)
            self.publisher.publish(topic, message.data, **message.attributes).result(timeout=30)

    def request(self, fn: Function) -> Request:
        serial = self.next_serial()
        if fn.name == "checkout_webhook":
            body, headers = signed(checkout_event(serial, self.catalog))
            return Request("/stripe", body, headers)
        if fn.signature == "http":
            raise SystemExit(f"no first request for the HTTP function {fn.name}: add one here")
        if fn.name == "renewal_charge":
            sid = f"sub_cold_start_unknown_{serial}"
            deadline = datetime.now(UTC).isoformat()
            charge = ChargeMessage(sid, TimerKind.RENEWAL_DUE, f"{sid}:renewal_due:{deadline}")
            return self.push(fn, charge.encode(), charge.attributes, serial)
        if fn.name == "receipt_email":
            event = invoice_paid(
                account_id=ACCOUNT,
                subscription_id=f"sub_cold_start_{serial}",
                charge_id=f"pi_cold_start_{serial}",
                at=datetime.now(UTC) - timedelta(minutes=1),
            )
            message = to_pubsub_message(event)
            return self.push(fn, message.data, message.attributes, serial)
        return self.push(fn, b"{}", {}, serial)  # a Cloud Scheduler tick; its payload is ignored

    def push(
        self, fn: Function, data: bytes, attributes: Mapping[str, str], serial: int
    ) -> Request:
        """A Pub/Sub push as a binary-mode `messagePublished` CloudEvent, as Eventarc sends it."""
        subscription = next(
            s for s in TOPOLOGY.subscriptions if s.push and s.push.function == fn.name
        )
        project, message_id = self.cloud.project, f"cold-start-{serial}"
        event = CloudEvent(
            {
                "type": PUBLISHED,
                "source": f"//pubsub.googleapis.com/projects/{project}/topics/{subscription.topic}",
                "id": message_id,
                "datacontenttype": "application/json",
            },
            {
                "message": {
                    "data": base64.b64encode(data).decode(),
                    "attributes": dict(attributes),
                    "messageId": message_id,
                    "publishTime": datetime.now(UTC).isoformat(),
                },
                "subscription": f"projects/{project}/subscriptions/{subscription.name}",
            },
        )
        headers, body = to_binary(event)
        return Request("/", body, headers)


def cold_start(fn: Function, request: Request, env: Mapping[str, str]) -> tuple[float, int, Path]:
    """Spawn → listening → first request answered; milliseconds, status, log folder."""
    started = time.perf_counter()
    servers, url = serve(fn, env)
    try:
        answer = requests.post(
            url + request.path, data=request.body, headers=request.headers, timeout=120
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
    finally:
        servers.stop()
    if answer.ok:
        shutil.rmtree(servers.log_dir, ignore_errors=True)  # keep only the logs of a failure
    return elapsed_ms, answer.status_code, servers.log_dir


def import_main(source: str, env: Mapping[str, str]) -> tuple[float, float]:
    """A fresh interpreter imports functions/<source>/main.py: (spawn → import done, -X
    importtime cumulative of `main`), in milliseconds."""
    code = "import main, time; print(time.monotonic_ns())"
    started = time.monotonic_ns()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT / "functions" / source,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    wall_ms = (int(done.stdout.split()[-1]) - started) / 1e6
    # "import time: self [us] | cumulative | imported package"; `main` is a top-level line.
    cumulative_us = next(
        int(line.split("|")[1])
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.split("|")[2].rstrip() == " main"
    )
    return wall_ms, cumulative_us / 1000


def p90(values: list[float]) -> float:
    return (
        statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]
    )


def function_env(config: StackConfig) -> dict[str, str]:
    """What `refrain stack env` prints, and the local secrets the demo gives its functions."""
    return {
        **config.client_environment(),
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "REFRAIN_SUBSCRIBER_PEPPER": "cold-start-pepper-local-only",
        "REFRAIN_ENVIRONMENT": "local",
        "REFRAIN_ACCOUNT_URL": "https://account.refrain.example",
        "REFRAIN_EXPORT_FLUSH_MAX": "1",  # the one queued signal, then no 1 s wait for more
    }


def report(
    functions: tuple[Function, ...],
    cold: Mapping[str, Figures],
    imports: Mapping[str, list[tuple[float, float]]],
    runs: int,
) -> str:
    rows = [
        ("function", "entry point", "answers", "cold median ms", "p90 ms", "min-max ms",
         "runs", "import ms (spawn→done)", "import main ms (-X importtime)"),
    ]  # fmt: skip
    for fn in functions:
        figures, timed = cold[fn.name], imports[fn.source]
        rows.append(
            (
                fn.name,
                fn.entry_point,
                ",".join(str(s) for s in sorted(set(figures.statuses))),
                f"{statistics.median(figures.cold_ms):.0f}",
                f"{p90(figures.cold_ms):.0f}",
                f"{min(figures.cold_ms):.0f}-{max(figures.cold_ms):.0f}",
                str(runs),
                f"{statistics.median(w for w, _ in timed):.0f}",
                f"{statistics.median(c for _, c in timed):.0f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def measure_cold(
    config: StackConfig, functions: tuple[Function, ...], runs: int
) -> dict[str, Figures]:
    """Every function `runs` times, round-robin, against the stack of ``config``."""
    cold = {f.name: Figures([], [], []) for f in functions}
    env = function_env(config)
    with pointed_at(config) as cloud:
        probes = Probes(cloud, load_catalog())
        for run in range(runs):
            for fn in functions:
                probes.prepare(fn)
                ms, status, log_dir = cold_start(fn, probes.request(fn), env)
                figures = cold[fn.name]
                figures.cold_ms.append(ms)
                figures.statuses.append(status)
                figures.log_dirs.append(log_dir)
                print(f"run {run + 1}/{runs} {fn.name:<17} {ms:7.0f} ms  HTTP {status}",
                      flush=True)  # fmt: skip
    return cold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--port-base", type=int, default=int(os.environ.get("REFRAIN_STACK_PORT_BASE", "8950"))
    )
    args = parser.parse_args()
    functions = TOPOLOGY.functions
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="refrain-cold-start-") as state_dir:
        manager = StackManager(StackConfig(port_base=args.port_base, state_dir=Path(state_dir)))
        env = function_env(manager.config)
        imports: dict[str, list[tuple[float, float]]] = {f.source: [] for f in functions}
        for _ in range(args.runs):
            for source, timed in imports.items():
                timed.append(import_main(source, env))
        manager.up()
        try:
            cold = measure_cold(manager.config, functions, args.runs)
        finally:
            manager.down()

    print()
    print(
        f"cold start: spawn → first answered request; {args.runs} runs round-robin; "
        f"{os.cpu_count()} CPUs; load average {load[0]:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    print(report(functions, cold, imports, args.runs))
    failed = [
        f"{name}: HTTP {status}, log in {log_dir}"
        for name, figures in cold.items()
        for status, log_dir in zip(figures.statuses, figures.log_dirs, strict=True)
        if not 200 <= status < 300
    ]
    if failed:
        print("first requests not answered with 2xx (not the real path):", *failed, sep="\n  ")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
