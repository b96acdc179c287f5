"""Start, watch, reset and stop the local stack.

Each server runs in its own process group so `down` can stop the JVMs the
emulator scripts spawn; the PIDs and groups are recorded in the state
directory, and `down` stops only what that file says this stack started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.prerequisites import find_emulators

STATE_FILE = "state.json"


class StackError(RuntimeError):
    """The stack could not be brought to the asked state."""


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    ready_url: str
    ports: tuple[int, ...]
    cwd: Path | None = None  # where it may write its own files (firebase-tools' debug log)


@dataclass
class RunningService:
    name: str
    pid: int
    ports: list[int]
    log: str


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _has_live_member(pgid)


def _has_live_member(pgid: int) -> bool:
    """True unless every process left in the group is a zombie (exited, unreaped)."""
    proc = Path("/proc")
    if not proc.exists():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class StackManager:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # -- what runs ---------------------------------------------------------

    def services(self) -> list[Service]:
        c = self.config
        emulators = find_emulators()
        base = f"http://{c.host}"
        return [
            Service(
                "firestore",
                [str(emulators.firestore), "start", f"--host={c.host}",
                 f"--port={c.firestore_port}"],
                f"{base}:{c.firestore_port}/",
                (c.firestore_port,),
            ),
            Service(
                "pubsub",
                [str(emulators.pubsub), f"--host={c.host}", f"--port={c.pubsub_port}"],
                f"{base}:{c.pubsub_port}/",
                (c.pubsub_port,),
            ),
            Service(
                "bigquery",
                [
                    sys.executable, "-m", "refrain_tools.stack.bq_wrapper",
                    "--rest-host", c.host, "--rest-port", str(c.bigquery_port),
                    "--grpc-host", c.host, "--grpc-port", str(c.bigquery_grpc_port),
                    "--project", c.project, "--ephemeral", "--log-level", "warning",
                ],
                f"{base}:{c.bigquery_port}/readyz",
                (c.bigquery_port, c.bigquery_grpc_port),
            ),
            Service(
                "ses",
                [sys.executable, "-m", "moto.server", "-H", c.host, "-p", str(c.ses_port)],
                f"{base}:{c.ses_port}/moto-api/data.json",
                (c.ses_port,),
            ),
            # Cloud Storage (model artifacts): gcp-storage-emulator, in memory, with the bucket.
            Service(
                "storage",
                [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", c.host,
                 "--port", str(c.storage_port), "--in-memory", "--quiet",
                 "--default-bucket", c.model_bucket],
                f"{base}:{c.storage_port}/",
                (c.storage_port,),
            ),
            # The Firebase Auth emulator (Node): unsigned ID tokens, users by REST, no account.
            Service(
                "auth",
                [str(emulators.firebase), "emulators:start", "--only", "auth",
                 "--project", c.project, "--config", str(c.state_dir / "firebase.json")],
                f"{base}:{c.auth_port}/",
                (c.auth_port, c.auth_hub_port, c.auth_logging_port),
                cwd=c.state_dir,
            ),
        ]  # fmt: skip

    @property
    def state_path(self) -> Path:
        return self.config.state_dir / STATE_FILE

    def read_state(self) -> dict[str, RunningService]:
        if not self.state_path.exists():
            return {}
        raw = json.loads(self.state_path.read_text())
        return {name: RunningService(**svc) for name, svc in raw["services"].items()}

    def _write_state(self, running: dict[str, RunningService]) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "config": json.loads(self.config.model_dump_json()),
            "services": {name: asdict(svc) for name, svc in running.items()},
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(self.state_path)

    # -- up ----------------------------------------------------------------

    @contextlib.contextmanager
    def borrowed(self, keep: bool = False) -> Iterator[bool]:
        """Reuse a running stack, else start one and stop it on exit (unless ``keep``).

        Yields True when this call started the stack. A stack that was running
        before, even partly, is someone else's: it is completed but never stopped.
        """
        already_up = any(group_alive(s.pid) for s in self.read_state().values())
        try:
            self.up()
            yield not already_up
        finally:
            if not already_up and not keep:
                self.down()

    def up(self) -> float:
        """Start what is not running, wait until all answer, provision; return seconds."""
        started_at = time.monotonic()
        services = self.services()
        running = {n: s for n, s in self.read_state().items() if group_alive(s.pid)}
        to_start = [s for s in services if s.name not in running]
        for svc in to_start:
            busy = [p for p in svc.ports if port_open(self.config.host, p)]
            if busy:
                raise StackError(
                    f"port {busy[0]} for {svc.name} is already in use; stop what holds it "
                    f"(`refrain stack down`) or choose other ports (REFRAIN_STACK_PORT_BASE)"
                )
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        (self.config.state_dir / "firebase.json").write_text(
            json.dumps(self.config.firebase_json(), indent=2)
        )
        env = {**os.environ, **self._server_env()}
        for svc in to_start:
            log_path = self.config.state_dir / f"{svc.name}.log"
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    svc.command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    env=env,
                    cwd=svc.cwd,
                )
            self._children[proc.pid] = proc
            running[svc.name] = RunningService(svc.name, proc.pid, list(svc.ports), str(log_path))
            self._write_state(running)
        try:
            self._wait_ready([s for s in services])
            self.provision()
        except BaseException:
            self.down()
            raise
        return time.monotonic() - started_at

    def _server_env(self) -> dict[str, str]:
        return {
            "BQEMU_DEFAULT_PROJECT_ID": self.config.project,
            "PYTHONUNBUFFERED": "1",
            "NO_UPDATE_NOTIFIER": "1",  # firebase-tools: no registry look-up at start
        }

    def _wait_ready(self, services: list[Service]) -> None:
        deadline = time.monotonic() + self.config.start_timeout_s
        pending = {s.name: s for s in services}
        running = self.read_state()
        while pending:
            for name, svc in list(pending.items()):
                if _answers(svc.ready_url):
                    del pending[name]
                elif not group_alive(running[name].pid):
                    raise StackError(f"{name} exited during start:\n{_tail(running[name].log)}")
            if pending and time.monotonic() > deadline:
                name = next(iter(pending))
                raise StackError(
                    f"{name} did not answer within {self.config.start_timeout_s:.0f}s:\n"
                    f"{_tail(running[name].log)}"
                )
            if pending:
                time.sleep(0.1)

    def provision(self, push_endpoints: dict[str, str] | None = None) -> None:
        """Create topics, subscriptions, dead-letter holds, BigQuery tables, SES sender."""
        from refrain_tools.stack.seed import provision_everything

        provision_everything(self.config, push_endpoints or {})

    # -- status / env --------------------------------------------------------

    def status(self) -> dict[str, dict[str, object]]:
        report: dict[str, dict[str, object]] = {}
        state = self.read_state()
        for svc in self.services():
            rs = state.get(svc.name)
            report[svc.name] = {
                "pid": rs.pid if rs else None,
                "running": bool(rs and group_alive(rs.pid)),
                "answering": _answers(svc.ready_url),
                "ports": list(svc.ports),
            }
        return report

    def env_lines(self) -> list[str]:
        return [f"export {k}={v}" for k, v in self.config.client_environment().items()]

    # -- reset -----------------------------------------------------------------

    def reset(self, push_endpoints: dict[str, str] | None = None) -> float:
        """Empty every store and re-provision the topology; return seconds.

        With `push_endpoints` (function name → URL), subscriptions push to them.
        """
        from refrain_tools.stack.seed import reset_everything

        started = time.monotonic()
        reset_everything(self.config, push_endpoints)
        return time.monotonic() - started

    # -- down ------------------------------------------------------------------

    def down(self, timeout_s: float = 15.0) -> list[str]:
        """Stop every process group this stack started; return the names stopped."""
        state = self.read_state()
        for svc in state.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(svc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for svc in state.values():
            while group_alive(svc.pid) and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.05)
            if group_alive(svc.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(svc.pid, signal.SIGKILL)
        self._reap(block=True)
        port_deadline = time.monotonic() + timeout_s
        for svc in state.values():
            for port in svc.ports:
                while port_open(self.config.host, port) and time.monotonic() < port_deadline:
                    time.sleep(0.05)
        if self.state_path.exists():
            self.state_path.unlink()
        return sorted(state)

    # -- outage drills -----------------------------------------------------------

    def pause(self, name: str) -> None:
        """Freeze one service (SIGSTOP): it keeps its data and answers nothing."""
        os.killpg(self._pid_of(name), signal.SIGSTOP)

    def resume(self, name: str) -> None:
        os.killpg(self._pid_of(name), signal.SIGCONT)

    def kill(self, name: str) -> None:
        """Kill one service outright (its data is gone); ``up()`` starts it again."""
        pid = self._pid_of(name)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while group_alive(pid) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)

    def _pid_of(self, name: str) -> int:
        running = self.read_state().get(name)
        if running is None:
            raise StackError(f"{name} is not running in this stack")
        return running.pid

    def _reap(self, block: bool = False) -> None:
        for pid, proc in list(self._children.items()):
            if block:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
            if proc.poll() is not None:
                del self._children[pid]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=0.5).status_code < 500
    except requests.RequestException:
        return False


def _tail(path: str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
