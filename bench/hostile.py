"""The public door under hostile input: time per refused request, and slow clients.

Usage: .venv/bin/python bench/hostile.py [--repeat 10] [--port-base 8990]

Starts its own local stack and serves the real checkout_webhook with
functions-framework, as Cloud Run serves it (gunicorn, WORKERS=1, THREADS as
Terraform sets them), over raw sockets:
- each class of hostile request (docs/SECURITY.md) sent --repeat times: status,
  p50 and max milliseconds to the answer, the server's CPU time per request;
- slow clients that send half a request head and stall: how long a normal request
  then waits, with 4 threads and with 40 (the webhook's concurrency in Terraform).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import stripe_header  # noqa: E402

from refrain.topology import TOPOLOGY, Topology  # noqa: E402
from refrain_tools.demo.servers import FunctionServers  # noqa: E402
from refrain_tools.stack.seed import own_stack  # noqa: E402

SECRET = "whsec_bench_hostile"  # pragma: allowlist secret (local benchmark, not a real one)
WEBHOOK = next(f for f in TOPOLOGY.functions if f.name == "checkout_webhook")
MIB = 1024 * 1024


def head(path: bytes, *headers: bytes, body: bytes = b"{}") -> bytes:
    lines = [b"POST " + path + b" HTTP/1.1", b"Host: localhost", *headers,
             b"Content-Type: application/json", b"Content-Length: %d" % len(body), b""]  # fmt: skip
    return b"\r\n".join(lines) + b"\r\n" + body


def signed(body: bytes) -> bytes:
    header = stripe_header(body, SECRET, int(time.time())).encode()
    return head(b"/stripe", b"Stripe-Signature: " + header, body=body)


def chunked(total: int) -> bytes:
    chunk = b"a" * MIB
    parts = [b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(total // MIB)]
    lines = [b"POST /stripe HTTP/1.1", b"Host: localhost", b"Content-Type: application/json",
             b"Transfer-Encoding: chunked", b""]  # fmt: skip
    return b"\r\n".join(lines) + b"\r\n" + b"".join(parts) + b"0\r\n\r\n"


CLASSES: dict[str, Callable[[], bytes]] = {
    "normal head, no signature": lambda: head(b"/stripe"),
    "request line 8 KiB": lambda: head(b"/stripe?q=" + b"a" * 8192),
    "request line 16 MiB": lambda: head(b"/stripe?q=" + b"a" * 16 * MIB),
    "one header 64 KiB": lambda: head(b"/stripe", b"Stripe-Signature: " + b"a" * 65536),
    "101 headers": lambda: head(b"/adyen", *[b"X-Pad-%d: 1" % n for n in range(101)]),
    "signed JSON 1,000 levels deep": lambda: signed(b"[" * 1000 + b"]" * 1000),
    "signed integer of 5,000 digits": lambda: signed(b'{"id": ' + b"9" * 5000 + b"}"),
    "gzip bomb body (256 KiB to 256 MiB)": lambda: head(
        b"/stripe", b"Content-Encoding: gzip", body=gzip.compress(b"\0" * 256 * MIB)
    ),
    "body 32 MiB, chunked": lambda: chunked(32 * MIB),
}


def answer(port: int, request: bytes, timeout: float = 120) -> tuple[int, float]:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # refused and closed before the client finished sending
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        got = sock.recv(64)
    return int(got.split(b" ", 2)[1]) if got else 0, (time.perf_counter() - start) * 1000


def serve(env: dict[str, str]) -> tuple[FunctionServers, int]:
    servers = FunctionServers(
        env=env,
        log_dir=Path(tempfile.mkdtemp(prefix="refrain-hostile-")),
        topology=Topology(topics=(), subscriptions=(), datasets=(), functions=(WEBHOOK,)),
        functions_dir=ROOT / "functions",
    )
    url = servers.start()[WEBHOOK.name]
    port = int(url.rsplit(":", 1)[1])
    answer(port, head(b"/stripe"))  # first request builds the service
    return servers, port


def slow_clients(port: int, stalled: int) -> str:
    """Open `stalled` connections that send half a head, then time one normal request."""
    holders = []
    for _ in range(stalled):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /stripe HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        holders.append(sock)
    time.sleep(0.5)
    try:
        status, ms = answer(port, head(b"/stripe"), timeout=10)
        return f"answered {status} in {ms:.0f} ms"
    except TimeoutError:
        return "no answer in 10 s (every thread held)"
    finally:
        for sock in holders:
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--port-base", type=int, default=8990)
    args = parser.parse_args()
    with own_stack(args.port_base):
        base = {"STRIPE_WEBHOOK_SECRET": SECRET, "WORKERS": "1"}
        servers, port = serve({**base, "THREADS": "4"})
        try:
            print(f"{'class':36} status   p50 ms   max ms   server CPU ms/request")
            for name, build in CLASSES.items():
                request = build()
                before = servers.cpu_seconds()[WEBHOOK.name]
                times: list[float] = []
                statuses: set[int] = set()
                for _ in range(args.repeat):
                    status, ms = answer(port, request)
                    statuses.add(status)
                    times.append(ms)
                cpu = (servers.cpu_seconds()[WEBHOOK.name] - before) * 1000 / args.repeat
                shown = ",".join(str(s) for s in sorted(statuses))
                print(f"{name:36} {shown:6} {statistics.median(times):8.1f} "
                      f"{max(times):8.1f} {cpu:10.1f}")  # fmt: skip
            print(f"slow clients, THREADS=4, 3 stalled: {slow_clients(port, 3)}")
            print(f"slow clients, THREADS=4, 4 stalled: {slow_clients(port, 4)}")
        finally:
            servers.stop()
        servers, port = serve({**base, "THREADS": "40"})
        try:
            print(f"slow clients, THREADS=40, 16 stalled: {slow_clients(port, 16)}")
        finally:
            servers.stop()


if __name__ == "__main__":
    main()
