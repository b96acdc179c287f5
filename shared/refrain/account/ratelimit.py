"""Per-account and per-IP token buckets, in the instance's memory.

A first step, documented as such (docs/SECURITY.md "Account API"): each instance
keeps its own buckets, so with N instances a client may get up to N times the rate
(Cloud Run spreads one client's requests over instances). It still bounds what one
token or one address can make one instance do, and answers 429 with
``Retry-After``. The per-IP bucket is checked before the token is verified (a flood
of garbage costs no signature checks); the per-account one after.

What Cloud Armor adds in front (an external HTTPS load balancer with a serverless
NEG): a global per-IP rate-based ban across all instances, pre-configured WAF rules,
adaptive protection against L7 floods, and refusal before any instance starts.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_KEYS = 100_000  # least recently used buckets beyond this are dropped (a full bucket)


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst``; one request takes one."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> float:
        """0 when allowed, else the seconds until a token is back (for Retry-After)."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
            return wait


def retry_after(wait_s: float) -> str:
    """Whole seconds, at least 1 (RFC 9110 delay-seconds)."""
    return str(max(1, math.ceil(wait_s)))
