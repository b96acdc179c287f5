"""Serve every deployed function locally with functions-framework, as the cloud would.

One functions-framework process per function in the topology (several may share
a source folder, each with its own entry point), each on its own port, in its
own process group so stopping them leaves nothing behind. Pub/Sub push
subscriptions then point at them: a push to /projects/P/topics/T reaches a
CloudEvent function as `messagePublished`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from refrain.topology import TOPOLOGY, Function, Topology

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FunctionServers:
    env: Mapping[str, str]
    log_dir: Path
    topology: Topology = TOPOLOGY
    # Where each function's source folder lives (a benchmark serves a stand-in from elsewhere).
    functions_dir: Path = ROOT / "functions"
    urls: dict[str, str] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, timeout_s: float = 60.0) -> dict[str, str]:
        """Start every function; if one cannot start, stop the others before raising."""
        try:
            return self._start(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout_s: float) -> dict[str, str]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for fn in self.topology.functions:
            self._spawn(fn)
        deadline = time.monotonic() + timeout_s
        for name, url in self.urls.items():
            while not _listening(url):
                proc = self._procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"function {name} exited: see {self.log_dir / name}.log")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"function {name} did not start in {timeout_s:.0f}s")
                time.sleep(0.1)
        return dict(self.urls)

    def _spawn(self, fn: Function) -> None:
        port = free_port()
        source = self.functions_dir / fn.source / "main.py"
        command = [
            str(Path(sys.executable).with_name("functions-framework")),
            "--target", fn.entry_point,
            "--source", str(source),
            "--signature-type", "http" if fn.signature == "http" else "cloudevent",
            "--host", "127.0.0.1",
            "--port", str(port),
        ]  # fmt: skip
        log = (self.log_dir / f"{fn.name}.log").open("wb")
        self._procs[fn.name] = subprocess.Popen(
            command,
            env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.urls[fn.name] = f"http://127.0.0.1:{port}"

    def push_endpoints(self, project: str) -> dict[str, str]:
        """Where each push subscription should deliver: CloudEvent functions take the
        Pub/Sub push on /projects/P/topics/T, HTTP functions on their own path."""
        endpoints: dict[str, str] = {}
        by_name = {f.name: f for f in self.topology.functions}
        for sub in self.topology.subscriptions:
            if sub.push is None or sub.push.function not in self.urls:
                continue
            fn = by_name[sub.push.function]
            base = self.urls[fn.name]
            if fn.signature == "cloudevent":
                endpoints[sub.push.function] = f"{base}/projects/{project}/topics/{sub.topic}"
            else:
                endpoints[sub.push.function] = base
        return endpoints

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time each function's processes have used so far (where the demo spends)."""
        used: dict[str, float] = {}
        for name, proc in self._procs.items():
            cpu = tree_cpu_seconds(proc.pid)
            if cpu is not None:
                used[name] = cpu
        return used

    def stop(self) -> None:
        for proc in self._procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self._procs.clear()


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process, its live descendants and the children it reaped
    (a server's exited workers); None once the process is gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        reaped = root.cpu_times().children_user + root.cpu_times().children_system
    except psutil.NoSuchProcess:
        return None
    used = float(reaped)
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        used += times.user + times.system
    return used


def _listening(url: str) -> bool:
    """A TCP connect, not a request: a probe must not show up in the function's log."""
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0
