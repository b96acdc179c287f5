"""Cold start of every deployed function against a bare function doing the same RPCs.

Usage: .venv/bin/python bench/cold_start.py [--runs 7] [--port-base 8950]
       [--before DIR] [--only NAME,...] [--no-bytecode] [--dev-venv]

The functions run in a virtualenv that holds only the runtime requirements a function
archive ships (``runtime_interpreter``), as the cloud installs them; ``--dev-venv`` runs
them from .venv instead, where dev-only packages some libraries import when present
(fpdf2 and numpy, babel and pytz) add to every start.

Starts its own local stack (port block --port-base, default REFRAIN_STACK_PORT_BASE
or 8950; state in a temporary folder) and stops it at the end, as bench/webhook.py does.

For each function of refrain.topology.TOPOLOGY.functions, three kinds of
functions-framework process, spawned one at a time and timed from spawn to the answer
of a first request that takes the function's real first-request path:

- ``refrain``: functions/<source>/main.py of this tree;
- ``before`` (with ``--before DIR``): DIR/functions/<source>/main.py with DIR/shared first
  on PYTHONPATH, an earlier commit (``git archive REV functions shared | tar -x -C DIR``),
  so before and after are measured in one sitting, run for run;
- ``bare``: bench/bare/bare_<source>.py served as main.py: no Refrain code, the same
  framework and client libraries, and on its first request the same RPCs (Firestore
  transaction, Pub/Sub publish or pull, BigQuery jobs, the SES send; see each file).
  The difference refrain - bare is what Refrain's own code adds to a cold start.

First requests: checkout_webhook a validly signed Stripe checkout.session.completed (a
new subscription: verify, audit, transaction, publish); account_api GET
/v1/me/entitlement with a Firebase Auth emulator user's ID token (its entitlement
document written by the ledger; one read); the CloudEvent functions a
binary-mode Pub/Sub `messagePublished` CloudEvent on their push subscription's topic:
outbox_sweep and renewal_tick a scheduler tick with nothing to do, renewal_charge a due
timer of an unknown subscription (one transaction, acked), receipt_email an
invoice.paid (invoice numbered, HTML + PDF, sent to SES), churn_export an export flush
with exactly one signal queued (and REFRAIN_EXPORT_FLUSH_MAX=1: an idle pull waits
10 s, which is no start-up cost), feature_snapshot yesterday's features. Each process
then answers a second, new request of the same kind (``warm``): the part of the
difference that is steady-state work (a receipt's PDF) rather than start-up.

Spawn to listening is not polled: the first request is posted again every 5 ms until a
connection is accepted. One untimed round comes first (bytecode written, emulators
past their own first-query costs); then rounds go over the functions and, within a
function, over the kinds in an order that rotates each round, so load drifting on a
shared machine falls on all of them. The figures are medians over --runs and the
median of the per-round differences (paired).

Bytecode: the functions run with bytecode compiled once into a private cache
(PYTHONPYCACHEPREFIX in the temporary folder), as a deployed function's installed
packages have it; ``--no-bytecode`` keeps PYTHONDONTWRITEBYTECODE=1 (if this shell sets
it, as agent shells do) and every import compiles from source, as this benchmark
measured before. Import: a fresh interpreter per run,
`python -X importtime -c "import main"` in the function's source folder: wall time from
spawn to `import main` done, and the cumulative time -X importtime gives `main`.

Prints medians over --runs and the load average; asserts nothing on timing. Exits 1 if
a first request was not answered with 2xx (the figure would not be the real path).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import pull_messages  # noqa: E402
from tests.unit.churn.factory import sample_event  # noqa: E402
from tests.unit.invoicing.factories import invoice_paid  # noqa: E402

from entitlement import User, seed_account, sign_up  # noqa: E402
from refrain.adapters.bigquery_signals import merge_sql  # noqa: E402
from refrain.adapters.firestore import build_firestore  # noqa: E402
from refrain.adapters.firestore_collections import CUSTOMERS  # noqa: E402
from refrain.adapters.pubsub import build_publisher  # noqa: E402
from refrain.churn.features import snapshot_script  # noqa: E402
from refrain.churn.pseudonym import Pseudonymizer  # noqa: E402
from refrain.churn.rows import SIGNALS_TABLE, SNAPSHOT_TABLE  # noqa: E402
from refrain.churn.transform import SignalTransformer, Skip  # noqa: E402
from refrain.domain import Catalog, EventType, load_catalog, to_pubsub_message  # noqa: E402
from refrain.renewals.messages import ChargeMessage, TimerKind  # noqa: E402
from refrain.settings import CloudSettings  # noqa: E402
from refrain.topology import (  # noqa: E402
    ANALYTICS_DATASET,
    CHURN_EXPORT_SUBSCRIPTION,
    SUBSCRIPTION_EVENTS,
    TOPOLOGY,
    Function,
)
from refrain_tools.demo.servers import free_port  # noqa: E402
from refrain_tools.packaging import export_requirements  # noqa: E402
from refrain_tools.stack.config import StackConfig  # noqa: E402
from refrain_tools.stack.manager import StackManager  # noqa: E402
from refrain_tools.stack.seed import pointed_at  # noqa: E402
from webhook import SECRET, checkout_event, signed  # noqa: E402

BARE = Path(__file__).resolve().parent / "bare"
ACCOUNT = "acct_cold_start"
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class Request:
    """The first request a freshly spawned function answers."""

    path: str
    body: bytes
    headers: dict[str, str]
    method: str = "POST"


class Probes:
    """Builds each function's first request; a serial keeps every id new, run after run."""

    def __init__(self, cloud: CloudSettings, catalog: Catalog) -> None:
        self.cloud, self.catalog = cloud, catalog
        self.db, self.publisher = build_firestore(cloud), build_publisher(cloud)
        self.serial = int(time.time() * 1000) * 1000
        self._user: User | None = None

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

    def account_user(self) -> User:
        """An Auth emulator user with a subscription through the ledger (made once)."""
        if self._user is None:
            self._user = sign_up(os.environ["FIREBASE_AUTH_EMULATOR_HOST"])
            seed_account(self.db, self._user.uid, 0)
        return self._user

    def request(self, fn: Function) -> Request:
        serial = self.next_serial()
        if fn.name == "checkout_webhook":
            body, headers = signed(checkout_event(serial, self.catalog))
            return Request("/stripe", body, headers)
        if fn.name == "account_api":  # the hot path: an emulator user's entitlement, one read
            headers = {"Authorization": f"Bearer {self.account_user().token}"}
            return Request("/v1/me/entitlement", b"", headers, method="GET")
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


@dataclass(frozen=True)
class Kind:
    """One way of serving the functions: this tree, an earlier tree, or the bare stand-ins."""

    name: str
    env: Mapping[str, str]
    before_dir: Path | None = None
    bin_dir: Path = Path(sys.executable).parent  # the interpreter (and functions-framework)

    def main_file(self, fn: Function, bare_dir: Path) -> Path:
        if self.name == "bare":
            return bare_dir / fn.source / "main.py"
        base = self.before_dir if self.before_dir is not None else ROOT
        return base / "functions" / fn.source / "main.py"


@dataclass
class Figures:
    cold_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def bare_sources(target: Path, functions: tuple[Function, ...]) -> Path:
    """bench/bare/bare_<source>.py as <target>/<source>/main.py, as functions-framework wants."""
    for source in {f.source for f in functions}:
        (target / source).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BARE / f"bare_{source}.py", target / source / "main.py")
    return target


def bare_environment(project: str) -> dict[str, str]:
    """The SQL the bare churn functions run: Refrain's own MERGE (with one real row) and
    snapshot script, so both sides send BigQuery the same jobs."""
    row = SignalTransformer(Pseudonymizer(b"cold-start-bare-pepper")).transform(
        sample_event(EventType.ACTIVATED, subscription_id="sub_cold_start_bare",
                     occurred_at=datetime.now(UTC))
    )  # fmt: skip
    if isinstance(row, Skip):
        raise SystemExit("the bare MERGE needs an exported signal")
    dataset = f"{project}.{ANALYTICS_DATASET}"
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    return {
        "BARE_MERGE_SQL": merge_sql(f"{dataset}.{SIGNALS_TABLE}"),
        "BARE_MERGE_ROWS": f"[{row.model_dump_json()}]",
        "BARE_SNAPSHOT_SQL": snapshot_script(
            f"{dataset}.{SIGNALS_TABLE}", f"{dataset}.{SNAPSHOT_TABLE}", yesterday
        ),
        "BARE_SNAPSHOT_TABLE": f"{dataset}.{SNAPSHOT_TABLE}",
    }


def spawn(
    fn: Function, kind: Kind, main_file: Path, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """One functions-framework process, as the demo serves a function (refrain_tools.demo)."""
    port = free_port()
    env = kind.env
    command = [
        str(kind.bin_dir / "functions-framework"),
        "--target", fn.entry_point, "--source", str(main_file),
        "--signature-type", "http" if fn.signature == "http" else "cloudevent",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


def answer(url: str, request: Request, proc: subprocess.Popen[bytes]) -> int:
    """Post ``request``, again every 5 ms while nothing listens yet; the HTTP status."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return requests.request(
                request.method, url + request.path, data=request.body or None,
                headers=request.headers, timeout=120,
            ).status_code  # fmt: skip
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                return 0
            time.sleep(0.005)


def cpu_seconds(pid: int) -> float:
    """CPU (user + system) the process and its children (gunicorn's worker) have used."""
    root = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in (root, *root.children(recursive=True)))


def stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def one_spawn(
    fn: Function, kind: Kind, probes: Probes, bare_dir: Path, logs: Path, figures: Figures | None
) -> str:
    """Spawn, first request (cold), a second request (warm), stop; a line for the log."""
    log = logs / f"{fn.name}-{kind.name}-{probes.next_serial()}.log"
    probes.prepare(fn)
    request = probes.request(fn)
    started = time.perf_counter()
    proc, url = spawn(fn, kind, kind.main_file(fn, bare_dir), log)
    try:
        status = answer(url, request, proc)
        cold_ms = (time.perf_counter() - started) * 1000
        cpu_ms = cpu_seconds(proc.pid) * 1000
        probes.prepare(fn)
        second = probes.request(fn)
        warm_started = time.perf_counter()
        warm_status = answer(url, second, proc)
        warm_ms = (time.perf_counter() - warm_started) * 1000
    finally:
        stop(proc)
    ok = 200 <= status < 300 and 200 <= warm_status < 300
    if figures is not None:
        figures.cold_ms.append(cold_ms)
        figures.cpu_ms.append(cpu_ms)
        figures.warm_ms.append(warm_ms)
        figures.statuses.append(status)
        if not ok:
            figures.failures.append(f"HTTP {status}/{warm_status}, log in {log}")
    if ok:
        log.unlink()
    return (
        f"{fn.name:<17} {kind.name:<8} cold {cold_ms:6.0f} ms  CPU {cpu_ms:5.0f} ms  "
        f"warm {warm_ms:5.0f} ms  HTTP {status}"
    )


def import_main(main_file: Path, kind: Kind) -> tuple[float, float]:
    """A fresh interpreter imports main.py: (spawn → import done, -X importtime cumulative
    of `main`), in milliseconds."""
    code = "import main, time; print(time.monotonic_ns())"
    started = time.monotonic_ns()
    done = subprocess.run(
        [str(kind.bin_dir / "python"), "-X", "importtime", "-c", code],
        cwd=main_file.parent, env=dict(kind.env), capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall_ms = (int(done.stdout.split()[-1]) - started) / 1e6
    # "import time: self [us] | cumulative | imported package"; `main` is a top-level line.
    cumulative_us = next(
        int(line.split("|")[1])
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.split("|")[2].rstrip() == " main"
    )
    return wall_ms, cumulative_us / 1000


def function_env(config: StackConfig, bytecode_cache: Path | None) -> dict[str, str]:
    """What `refrain stack env` prints, and the local secrets the demo gives its functions."""
    env = {
        **os.environ,
        **config.client_environment(),
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "REFRAIN_SUBSCRIBER_PEPPER": "cold-start-pepper-local-only",
        "REFRAIN_ENVIRONMENT": "local",
        "REFRAIN_ACCOUNT_URL": "https://account.refrain.example",
        "REFRAIN_EXPORT_FLUSH_MAX": "1",  # the one queued signal, then no 1 s wait for more
    }
    if bytecode_cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(bytecode_cache)
    return env


def kinds_for(
    base_env: Mapping[str, str], before: Path | None, project: str, bin_dir: Path
) -> list[Kind]:
    own = {**base_env, "PYTHONPATH": str(ROOT / "shared")}
    kinds = [Kind("refrain", own, bin_dir=bin_dir)]
    if before is not None:
        path = os.pathsep.join((str(before / "shared"), str(ROOT / "shared")))
        kinds.append(Kind("before", {**base_env, "PYTHONPATH": path}, before, bin_dir))
    kinds.append(Kind("bare", {**base_env, **bare_environment(project)}, bin_dir=bin_dir))
    return kinds


def runtime_interpreter(target: Path) -> Path:
    """A virtualenv holding only what a function archive's requirements.txt installs, as
    the cloud builds it: a dev dependency that happens to be importable (numpy, pytz) would
    otherwise be imported by libraries that use it when present, and counted. Its bin/."""
    uv = str(Path(sys.executable).with_name("uv"))
    requirements = target.parent / "runtime-requirements.txt"
    requirements.write_text(export_requirements(ROOT), encoding="utf-8")
    python = str(target / "bin" / "python")
    for command in (
        [uv, "venv", "--quiet", "--python", sys.executable, str(target)],
        [uv, "pip", "install", "--quiet", "--python", python, "-r", str(requirements)],
    ):
        subprocess.run(command, capture_output=True, check=True)
    return target / "bin"


def median_of_pairs(a: list[float], b: list[float]) -> float:
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


def report(
    functions: tuple[Function, ...],
    kinds: list[Kind],
    cold: Mapping[tuple[str, str], Figures],
    imports: Mapping[tuple[str, str], list[tuple[float, float]]],
) -> str:
    names = [k.name for k in kinds if k.name != "bare"]
    header = ["function", *[f"{k.name} cold p50" for k in kinds],
              *[f"{n} - bare (paired p50)" for n in names],
              *[f"{k.name} CPU p50" for k in kinds],
              *[f"{n} - bare CPU (paired p50)" for n in names],
              *[f"{k.name} warm p50" for k in kinds],
              *[f"{n} import p50" for n in names]]  # fmt: skip
    rows = [header]
    for fn in functions:
        row = [fn.name]
        row += [f"{statistics.median(cold[fn.name, k.name].cold_ms):.0f}" for k in kinds]
        bare = cold[fn.name, "bare"].cold_ms
        row += [f"{median_of_pairs(cold[fn.name, n].cold_ms, bare):+.0f}" for n in names]
        row += [f"{statistics.median(cold[fn.name, k.name].cpu_ms):.0f}" for k in kinds]
        bare_cpu = cold[fn.name, "bare"].cpu_ms
        row += [f"{median_of_pairs(cold[fn.name, n].cpu_ms, bare_cpu):+.0f}" for n in names]
        row += [f"{statistics.median(cold[fn.name, k.name].warm_ms):.0f}" for k in kinds]
        row += [f"{statistics.median(w for w, _ in imports[fn.source, n]):.0f}" for n in names]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} CPUs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--port-base", type=int, default=int(os.environ.get("REFRAIN_STACK_PORT_BASE", "8950"))
    )
    parser.add_argument("--before", type=Path, help="a tree with functions/ and shared/")
    parser.add_argument("--only", help="comma-separated function names")
    parser.add_argument("--no-bytecode", action="store_true")
    parser.add_argument(
        "--dev-venv", action="store_true",
        help="serve from this .venv (dev tools installed) instead of a runtime-only one",
    )  # fmt: skip
    args = parser.parse_args()
    functions = tuple(
        f for f in TOPOLOGY.functions if not args.only or f.name in args.only.split(",")
    )
    print(f"start: {load_line()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="refrain-cold-start-") as tmp:
        state = Path(tmp)
        manager = StackManager(StackConfig(port_base=args.port_base, state_dir=state / "stack"))
        cache = None if args.no_bytecode else state / "pycache"
        base_env = function_env(manager.config, cache)
        bare_dir = bare_sources(state / "bare", functions)
        bin_dir = (
            Path(sys.executable).parent
            if args.dev_venv
            else runtime_interpreter(state / "runtime-venv")
        )
        logs = state / "logs"
        logs.mkdir()
        manager.up()
        try:
            with pointed_at(manager.config) as cloud:
                kinds = kinds_for(base_env, args.before, cloud.project, bin_dir)
                probes = Probes(cloud, load_catalog())
                for fn in functions:  # untimed: bytecode written, emulators warmed up
                    for kind in kinds:
                        print("warm-up", one_spawn(fn, kind, probes, bare_dir, logs, None),
                              flush=True)  # fmt: skip
                imports = {
                    (fn.source, k.name): [
                        import_main(k.main_file(fn, bare_dir), k) for _ in range(args.runs)
                    ]
                    for fn in functions
                    for k in kinds
                    if k.name != "bare"
                }
                cold = {(f.name, k.name): Figures() for f in functions for k in kinds}
                for run in range(args.runs):
                    order = kinds[run % len(kinds) :] + kinds[: run % len(kinds)]
                    for fn in functions:
                        for kind in order:
                            line = one_spawn(
                                fn, kind, probes, bare_dir, logs, cold[fn.name, kind.name]
                            )
                            print(f"run {run + 1}/{args.runs} {line}", flush=True)
        finally:
            manager.down()
        failed = [
            f"{name} ({kind}): {failure}"
            for (name, kind), figures in cold.items()
            for failure in figures.failures
        ]
        print()
        print(
            f"cold start: spawn → first answered request, p50 of {args.runs} spawns per kind "
            f"({'bytecode compiled once' if cache else 'no bytecode: every import compiles'}); "
            f"end: {load_line()}"
        )
        print(report(functions, kinds, cold, imports))
        if failed:
            print("requests not answered with 2xx (not the real path):", *failed, sep="\n  ")
            shutil.copytree(logs, Path(tempfile.mkdtemp(prefix="refrain-cold-start-logs-")),
                            dirs_exist_ok=True)  # fmt: skip
            raise SystemExit(1)


if __name__ == "__main__":
    main()
