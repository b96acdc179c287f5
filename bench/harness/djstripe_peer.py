"""Drive the dj-stripe peer (Django + PostgreSQL) that a separate harness sets up.

Nothing of the peer is in this repository: its harness (a folder given with
`--peer-dir`, e.g. a checkout of the team's peer benchmarks) holds `setup.sh`,
`fake_stripe.py`, `bench_db.py` and a `benchsite` Django project, and its `setup.sh`
builds the work directory (`PEER`, by default /tmp/peer): a virtualenv with dj-stripe,
the project in `app/`, a private PostgreSQL cluster in `pg/` with pg_stat_statements.
This module starts what a run needs (the cluster if it is down, the harness's fake
Stripe API, gunicorn) and stops, by process id, only what it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.request import Request, urlopen

from refrain_tools.demo.servers import free_port, tree_cpu_seconds

NEEDED_IN_HARNESS = ("fake_stripe.py", "bench_db.py", "setup.sh")
NEEDED_IN_WORK = ("venv/bin/python", "venv/bin/gunicorn", "app/manage.py", "pg/data/PG_VERSION")
# SQL statements in the benchmark database by their first keyword (transaction control
# = BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE), from pg_stat_statements.
STATEMENTS_SQL = r"""
select coalesce(lower(substring(query from '^\s*(\w+)')), '?') as verb, sum(calls)::bigint
from pg_stat_statements s join pg_database d on d.oid = s.dbid
where d.datname = current_database() and query not ilike '%pg_stat_statements%'
group by 1
"""
TRANSACTION_CONTROL = {"begin", "commit", "rollback", "savepoint", "release"}


@dataclass(frozen=True)
class PeerSetup:
    harness: Path
    work: Path
    pg_bin: Path

    @classmethod
    def locate(cls, harness: Path, work: Path, pg_bin: Path) -> PeerSetup | str:
        """The setup, or why it cannot run (and how to make it)."""
        missing = [f for f in NEEDED_IN_HARNESS if not (harness / f).exists()]
        if missing:
            return f"{harness} is not the dj-stripe peer harness (no {', '.join(missing)})"
        missing = [f for f in NEEDED_IN_WORK if not (work / f).exists()]
        if missing:
            return (
                f"the peer is not set up in {work} (no {', '.join(missing)}): "
                f"run `PEER={work} bash {harness / 'setup.sh'}` first (as root, ~3 min)"
            )
        return cls(harness, work, pg_bin)

    @property
    def python(self) -> str:
        return str(self.work / "venv" / "bin" / "python")

    @property
    def data(self) -> Path:
        return self.work / "pg" / "data"


class Peer:
    """A running peer: its URL and secret, its processes, its database's counters."""

    def __init__(self, setup: PeerSetup, corpus: Path, workers: int, threads: int) -> None:
        self.setup = setup
        self.secret = "whsec_" + secrets.token_hex(16)  # this run's endpoint secret
        self.endpoint = uuid.uuid4()
        self.pg_port = 0
        self.postmaster = 0
        self.fake_url = ""
        self.url = ""
        self._corpus = corpus
        self._workers, self._threads = workers, threads
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._started_pg = False
        self._log_dir = Path(".")

    # -- start and stop ----------------------------------------------------

    def start(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        if not self._postmaster_running():
            self._pg_ctl("start", "-w", "-l", str(self.setup.work / "pg" / "server.log"))
            self._started_pg = True
        lines = (self.setup.data / "postmaster.pid").read_text().splitlines()
        self.postmaster, self.pg_port = int(lines[0]), int(lines[3])
        fake_port = free_port()
        self.fake_url = f"http://127.0.0.1:{fake_port}"
        self._spawn(
            "fake_stripe",
            [self.setup.python, str(self.setup.harness / "fake_stripe.py"),
             "--port", str(fake_port), "--corpus", str(self._corpus)],
        )  # fmt: skip
        self._wait_listening("fake_stripe", fake_port)
        self.restart()

    def restart(self) -> None:
        """A fresh gunicorn (each run starts from the same cold server, as ours does)."""
        if "gunicorn" in self._procs:
            self._stop(self._procs.pop("gunicorn"))
        port = free_port()
        self._spawn(
            "gunicorn",
            [str(self.setup.work / "venv" / "bin" / "gunicorn"), "benchsite.wsgi:application",
             "-b", f"127.0.0.1:{port}", "-k", "gthread", "-w", str(self._workers),
             "--threads", str(self._threads), "--backlog", "2048", "--timeout", "120",
             "--keep-alive", "30", "--no-control-socket", "--log-level", "warning"],
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}/stripe/webhook/{self.endpoint}/"
        self._wait_listening("gunicorn", port)

    def stop(self) -> None:
        for proc in self._procs.values():
            self._stop(proc)
        self._procs.clear()
        if self._started_pg:
            self._pg_ctl("stop", "-m", "fast")
            self._started_pg = False

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    # -- each run ------------------------------------------------------------

    def reset(self) -> None:
        """Empty every dj-stripe table, recreate this run's endpoint, zero the counters."""
        subprocess.run(
            [self.setup.python, str(self.setup.harness / "bench_db.py"), "reset"],
            cwd=self.setup.work / "app",
            env=self._env(),
            check=True,
            capture_output=True,
        )
        self._psql("select pg_stat_statements_reset()")
        urlopen(Request(self.fake_url + "/__reset", method="POST"), timeout=30).read()

    def cpu_seconds(self) -> dict[str, float | None]:
        return {
            "gunicorn": tree_cpu_seconds(self._procs["gunicorn"].pid),
            "postgres": tree_cpu_seconds(self.postmaster),
            "fake_stripe": tree_cpu_seconds(self._procs["fake_stripe"].pid),
        }

    def statements(self) -> Counter[str]:
        """SQL statements since the last reset: select, insert, update, delete,
        transaction control, other."""
        counts: Counter[str] = Counter()
        for line in self._psql(STATEMENTS_SQL).splitlines():
            verb, _, calls = line.partition("|")
            key = "transaction control" if verb in TRANSACTION_CONTROL else verb
            key = key if key in {"select", "insert", "update", "delete"} | {
                "transaction control"} else "other"  # fmt: skip
            counts[key] += int(calls)
            counts["statements"] += int(calls)
        return counts

    def stripe_api_calls(self) -> int:
        with urlopen(self.fake_url + "/__stats", timeout=30) as answer:
            return int(json.loads(answer.read())["total"])

    # -- plumbing ------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BENCH_DB": "pg",
            "BENCH_PG_PORT": str(self.pg_port),
            "FAKE_STRIPE_URL": self.fake_url,
            "BENCH_WEBHOOK_SECRET": self.secret,
            "BENCH_ENDPOINT_UUID": str(self.endpoint),
            "PYTHONUNBUFFERED": "1",
        }

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self._log_dir / f"peer-{name}.log").open("ab")
        self._procs[name] = subprocess.Popen(
            command,
            cwd=self.setup.work / "app",
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _wait_listening(self, name: str, port: int) -> None:
        log, proc = self._log_dir / f"peer-{name}.log", self._procs[name]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"peer {name} exited: see {log}")
            with socket.socket() as sock:
                sock.settimeout(0.5)
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"peer {name} not listening on {port} after 60 s: see {log}")

    def _postmaster_running(self) -> bool:
        pid_file = self.setup.data / "postmaster.pid"
        if not pid_file.exists():
            return False
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError, IndexError):
            os.kill(int(pid_file.read_text().splitlines()[0]), 0)
            return True
        return False

    def _pg_ctl(self, *args: str) -> None:
        command = [str(self.setup.pg_bin / "pg_ctl"), "-D", str(self.setup.data), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses root: the cluster belongs to `postgres`
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def _psql(self, sql: str) -> str:
        answer = subprocess.run(
            [str(self.setup.pg_bin / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port),
             "-U", "postgres", "-d", "djstripe_bench", "-Atq", "-c", re.sub(r"\s+", " ", sql)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return answer.stdout.strip()


@contextlib.contextmanager
def running_peer(
    setup: PeerSetup, corpus: Path, workers: int, threads: int, log_dir: Path
) -> Iterator[Peer]:
    peer = Peer(setup, corpus, workers, threads)
    try:
        peer.start(log_dir)
        yield peer
    finally:
        peer.stop()
