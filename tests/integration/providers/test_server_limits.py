"""The limits the HTTP server sets before our code runs, on the real served function.

The webhook is served as Cloud Run serves it: functions-framework's gunicorn, the
versions uv.lock pins and the function archive ships, with the worker and thread
settings Terraform gives it (terraform/modules/function: WORKERS=1, THREADS = the
instance's request concurrency). Raw sockets, because what is tested is what a
client outside the HTTP grammar can send: a request line of more than 1 MiB, a
64 KiB header, more than 100 headers. Each is refused by the server with a 4xx
before any route runs, and nothing is written. Times are measured in
bench/hostile.py, not asserted here (docs/SECURITY.md has the figures).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from refrain_tools.demo.servers import free_port
from tests.integration.providers.conftest import SOURCE, Stores

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


@pytest.fixture
def served(door: Stores, tmp_path: Path) -> Iterator[int]:
    """The webhook under functions-framework in its own process; yields its port."""
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    env = {**os.environ, "WORKERS": "1", "THREADS": "4", "PYTHONUNBUFFERED": "1"}
    command = [
        str(Path(sys.executable).with_name("functions-framework")),
        "--target", "checkout_webhook", "--source", str(SOURCE),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the webhook did not start in 60 s"
            time.sleep(0.1)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _status(port: int, head: bytes) -> int:
    """Send a request head (and an empty body); the status code of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        # the server may answer and close before reading all of it
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1."), answer[:200]
    return int(answer.split(b" ", 2)[1])


def _request(path: bytes, *headers: bytes) -> bytes:
    lines = [b"POST " + path + b" HTTP/1.1", b"Host: localhost", *headers,
             b"Content-Type: application/json", b"Content-Length: 2", b"", b"{}"]  # fmt: skip
    return b"\r\n".join(lines)


def test_a_normal_request_reaches_the_route(served: int, door: Stores) -> None:
    """The control: the same socket code gets the route's own refusal (no signature: 401)."""
    assert _status(served, _request(b"/stripe")) == 401
    assert door.documents() == []


@pytest.mark.parametrize("route", [b"/stripe", b"/adyen", b"/google-play", b"/apple"])
def test_a_request_line_over_1_mib_is_refused(served: int, door: Stores, route: bytes) -> None:
    path = route + b"?q=" + b"a" * MIB
    status = _status(served, _request(path))
    assert status == 414, "refused by the server, before the route (which answers 401)"
    assert door.documents() == []


def test_a_64_kib_header_is_refused(served: int, door: Stores) -> None:
    assert _status(served, _request(b"/stripe", b"Stripe-Signature: " + b"a" * 65536)) == 431
    assert door.documents() == []


def test_more_than_100_headers_are_refused(served: int, door: Stores) -> None:
    many = [b"X-Pad-%d: 1" % n for n in range(101)]
    assert _status(served, _request(b"/adyen", *many)) == 431
    assert door.documents() == []


def test_the_server_still_serves_after_the_refusals(served: int, door: Stores) -> None:
    """A refused request costs the attacker a connection, not the instance its threads."""
    for _ in range(3):
        _status(served, _request(b"/stripe?q=" + b"a" * MIB))
    assert _status(served, _request(b"/stripe")) == 401
