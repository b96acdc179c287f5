"""A closed-loop load generator for a Stripe webhook endpoint, and its figures.

C threads, each with one keep-alive HTTP/1.1 connection (http.client), take the next
event of the corpus in order and POST it signed at send time with Stripe's scheme
(`t=<now>,v1=HMAC-SHA256(secret, "<t>.<body>")`): a pre-signed corpus would go stale
against the 300 s tolerance. The same generator drives every implementation compared.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import math
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


def stripe_signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not sorted_values:
        raise ValueError("no values")
    rank = math.ceil(p / 100 * len(sorted_values))
    return sorted_values[min(len(sorted_values), max(1, rank)) - 1]


@dataclass
class LoadResult:
    concurrency: int
    wall_s: float
    latencies_s: list[float] = field(default_factory=list)
    status: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return len(self.latencies_s)

    @property
    def events_per_s(self) -> float:
        return self.sent / self.wall_s if self.wall_s else 0.0

    def latency_ms(self, p: float) -> float:
        return percentile(sorted(self.latencies_s), p) * 1000

    @property
    def all_ok(self) -> bool:
        return set(self.status) <= {"200"}


def run_load(
    url: str, secret: str, bodies: Sequence[bytes], concurrency: int, timeout_s: float = 120.0
) -> LoadResult:
    """POST every body once, `concurrency` at a time, in order; latency of each request."""
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port, parts.path or "/"
    latencies: list[float | None] = [None] * len(bodies)
    statuses: list[str] = [""] * len(bodies)
    next_index = iter(range(len(bodies)))
    lock = threading.Lock()

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(host, port, timeout=timeout_s)

    def worker() -> None:
        conn = connect()
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            body = bodies[i]
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": stripe_signature(secret, body, int(time.time())),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                statuses[i] = str(answer.status)
                if (answer.getheader("Connection") or "").lower() == "close":
                    conn.close()
                    conn = connect()
            except (OSError, http.client.HTTPException) as error:
                statuses[i] = f"error:{type(error).__name__}"
                conn.close()
                conn = connect()
            latencies[i] = time.perf_counter() - started
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = LoadResult(concurrency, time.perf_counter() - started)
    result.latencies_s = [t for t in latencies if t is not None]
    result.status = Counter(s for s in statuses if s)
    return result
