"""account_api's hot path, GET /v1/me/entitlement: reads per request, throughput, latency,
cold start.

Usage: .venv/bin/python bench/entitlement.py [--accounts 200] [--requests 600]
       [--port-base 8950] [--cold-runs 3] [--dev-venv] [--no-cold-start]

Starts its own local stack (port block --port-base, default REFRAIN_STACK_PORT_BASE or
8950), signs up --accounts users in the Firebase Auth emulator (their ID tokens are the
emulator's own) and gives each a paid subscription through the real Firestore ledger,
so each ``entitlements/{account}`` document is the one the ledger writes in the
subscription's own transaction. Then:

- Firestore reads per request: the real AccountApi built by refrain.bootstrap, called
  in-process (the WSGI layer is not needed to count), every request with a different
  account; documents read are counted at the Firestore client's RPC layer
  (``get_document``, ``batch_get_documents``, ``run_query`` and aggregations, as
  tests/integration/account does), not estimated.
- Requests/s, p50 and p99 at concurrency 1 and 16: the real function served by
  functions-framework in its own process (as the demo serves it), over HTTP with one
  keep-alive connection per client thread, accounts in rotation. The function's rate
  limits are raised for the run (REFRAIN_ACCOUNT_*RATE*/*BURST): this measures the
  path, not the limiter.
- Cold start: bench/cold_start.py --only account_api (spawn to the first answered
  GET /v1/me/entitlement, against a bare function doing the same document read), run
  after this script's stack is down, in the runtime-only virtualenv unless --dev-venv.

Prints figures; asserts nothing about time. Exits 1 if a request was not answered 200.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from tests.support import counted_reads  # noqa: E402

from harness.closed_loop import percentile  # noqa: E402

PATH = "/v1/me/entitlement"
# Tax-inclusive markets: the checkout's amount is the catalog price.
MARKETS = (("SE", "individual_monthly"), ("DE", "duo_monthly"), ("GB", "individual_monthly"),
           ("JP", "family_monthly"), ("BR", "duo_monthly"))  # fmt: skip
# The run measures the path, not the limiter (REFRAIN_ACCOUNT_* in refrain.account.settings).
UNLIMITED = {
    "REFRAIN_ACCOUNT_RATE_PER_S": "100000", "REFRAIN_ACCOUNT_BURST": "100000",
    "REFRAIN_ACCOUNT_IP_RATE_PER_S": "100000", "REFRAIN_ACCOUNT_IP_BURST": "100000",
}  # fmt: skip
PASSWORD = "bench-only-1"  # pragma: allowlist secret


# -- pure pieces (tests/unit/tools/test_entitlement_bench.py) ---------------------------


@dataclass(frozen=True)
class Load:
    concurrency: int
    requests: int
    wall_s: float
    latencies_s: tuple[float, ...]
    statuses: Counter[str]

    @property
    def per_s(self) -> float:
        return self.requests / self.wall_s if self.wall_s > 0 else 0.0

    def ms(self, p: float) -> float:
        return percentile(sorted(self.latencies_s), p) * 1000

    def line(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"HTTP concurrency {self.concurrency:>2}: {self.per_s:7.1f} requests/s, "
            f"p50 {self.ms(50):6.1f} ms, p99 {self.ms(99):6.1f} ms "
            f"(n={self.requests}; {statuses})"
        )


def reads_line(reads: Counter[str], requests_made: int) -> str:
    """Documents read per request, in total and by RPC."""
    total = sum(reads.values())
    by_rpc = ", ".join(f"{k} {v / requests_made:.2f}" for k, v in sorted(reads.items()) if v)
    return (
        f"Firestore reads per request: {total / requests_made:.2f} "
        f"({by_rpc or 'none'}; {requests_made} requests, each a different account)"
    )


def offer_of(i: int) -> tuple[str, str]:
    """(market, plan) of the i-th seeded account: the markets in rotation."""
    return MARKETS[i % len(MARKETS)]


def rotation(items: Sequence[Any], n: int) -> list[Any]:
    """``n`` items, in rotation: request i goes to account i mod len(items)."""
    if not items:
        raise ValueError("nothing to rotate")
    return [items[i % len(items)] for i in range(n)]


# -- the stack's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    uid: str
    token: str


def sign_up(emulator_host: str) -> User:
    """A user of the Firebase Auth emulator (the Identity Toolkit signUp a client SDK calls)."""
    answer = requests.post(
        f"http://{emulator_host}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=local",
        json={"email": f"b{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD,
              "returnSecureToken": True},
        timeout=30,
    )  # fmt: skip
    answer.raise_for_status()
    body = answer.json()
    return User(str(body["localId"]), str(body["idToken"]))


def seed_account(db: Any, account_id: str, i: int) -> str:
    """A paid subscription through the real ledger; its entitlement is the ledger's own."""
    from refrain.adapters.firestore_ledger import FirestoreLedger
    from refrain.domain import load_catalog
    from refrain.domain.inputs import CheckoutCompleted
    from refrain.domain.subscription import BillingMode, Subscription
    from refrain.ledger import LedgerCommand, LedgerStatus

    market, plan = offer_of(i)
    offer = load_catalog().offer(plan, market)
    sub_id, at = f"sub_bench_{account_id[:20]}", datetime.now(UTC) - timedelta(minutes=1)
    draft = Subscription.new(
        subscription_id=sub_id, account_id=account_id, provider="stripe",
        billing_mode=BillingMode.MERCHANT_MANAGED, plan=offer.plan.id,
        plan_rank=offer.plan.rank, interval_months=offer.plan.interval.months, market=market,
        price=offer.price, created_at=at,
    )  # fmt: skip
    checkout = CheckoutCompleted(
        input_id=f"evt_{sub_id}", occurred_at=at, payment_method_ref="pm_sandbox_ok",
        paid=True, charge_id=f"ch_{sub_id}", amount=offer.price,
    )  # fmt: skip
    result = FirestoreLedger(db).apply(
        LedgerCommand(f"stripe:evt_{sub_id}", sub_id, checkout, at, "stripe", draft=draft)
    )
    if result.status is not LedgerStatus.APPLIED:
        raise SystemExit(f"seeding {sub_id}: {result.status}")
    return sub_id


def reads_in_process(users: Sequence[User], cloud: Any) -> str:
    from refrain.account.routes import Request
    from refrain.bootstrap import build_account_api

    with mock.patch.dict(os.environ, UNLIMITED):
        api = build_account_api(cloud)

    def get(user: User) -> None:
        bearer = [("Authorization", f"Bearer {user.token}")]
        answer = api.handle(Request.make("GET", PATH, bearer, b"", "127.0.0.1"))
        if answer.status != 200:
            raise SystemExit(f"in-process GET {PATH}: {answer.status} {answer.body}")

    with contextlib.redirect_stdout(io.StringIO()):  # the API's request log lines
        get(users[0])  # warm: clients built, outside the count
        with counted_reads() as reads:
            for user in users:
                get(user)
    return reads_line(reads, len(users))


def load(url: str, tokens: Sequence[str], concurrency: int) -> Load:
    local = threading.local()

    def get(token: str) -> tuple[float, str]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        started = time.perf_counter()
        answer = session.get(url + PATH, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        return time.perf_counter() - started, str(answer.status_code)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = list(pool.map(get, tokens))
    wall = time.perf_counter() - started
    return Load(concurrency, len(tokens), wall, tuple(d[0] for d in done),
                Counter(d[1] for d in done))  # fmt: skip


def cold_start(port_base: int, runs: int, dev_venv: bool) -> list[str]:
    """bench/cold_start.py for account_api alone; its summary lines."""
    command = [sys.executable, str(BENCH / "cold_start.py"), "--only", "account_api",
               "--runs", str(runs), "--port-base", str(port_base)]  # fmt: skip
    if dev_venv:
        command.append("--dev-venv")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.splitlines()
    summary = lines[lines.index("") + 1 :] if "" in lines else lines[-8:]
    if done.returncode != 0:
        summary.append(f"cold_start.py exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--requests", type=int, default=600, help="per concurrency level")
    parser.add_argument(
        "--port-base", type=int, default=int(os.environ.get("REFRAIN_STACK_PORT_BASE", "8950"))
    )
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--dev-venv", action="store_true", help="cold start from .venv")
    parser.add_argument("--no-cold-start", action="store_true")
    args = parser.parse_args()

    from refrain.adapters.firestore import build_firestore
    from refrain.topology import TOPOLOGY, Topology
    from refrain_tools.demo.servers import FunctionServers
    from refrain_tools.stack.seed import own_stack

    report: list[str] = []
    failed = False
    with own_stack(args.port_base) as (manager, cloud):
        host = manager.config.client_environment()["FIREBASE_AUTH_EMULATOR_HOST"]
        db = build_firestore(cloud)
        started = time.perf_counter()
        users = [sign_up(host) for _ in range(args.accounts)]
        for i, user in enumerate(users):
            seed_account(db, user.uid, i)
        report.append(f"seeded {len(users)} accounts (Auth emulator users, subscriptions "
                      f"through the ledger) in {time.perf_counter() - started:.1f} s")  # fmt: skip

        report.append(reads_in_process(users, cloud))

        fn = next(f for f in TOPOLOGY.functions if f.name == "account_api")
        servers = FunctionServers(
            env={**manager.config.client_environment(), **UNLIMITED,
                 "REFRAIN_ENVIRONMENT": "local"},
            log_dir=Path(tempfile.mkdtemp(prefix="refrain-bench-entitlement-")),
            topology=Topology(topics=(), subscriptions=(), datasets=(), functions=(fn,)),
        )  # fmt: skip
        url = servers.start()[fn.name]
        try:
            tokens = [u.token for u in users]
            warm = load(url, rotation(tokens, 20), 1)  # first request: clients, certs
            failed |= set(warm.statuses) != {"200"}
            for concurrency in (1, 16):
                result = load(url, rotation(tokens, args.requests), concurrency)
                failed |= set(result.statuses) != {"200"}
                report.append(result.line())
        finally:
            servers.stop()
    report.append(f"(functions-framework, one process, its default threads; load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")  # fmt: skip
    print("\n".join(report), flush=True)
    if not args.no_cold_start:
        print("\n".join(cold_start(args.port_base, args.cold_runs, args.dev_venv)))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
