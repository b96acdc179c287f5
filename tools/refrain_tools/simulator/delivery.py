"""Webhook delivery the way providers do it: signed, retried, duplicated, out of order.

Stripe and Adyen sign each request (Stripe per attempt, with the time); a
Google Play push carries a fresh Google-signed OIDC token per attempt; an
App Store notification is a JWS signed once, sent as is. All of them promise
at-least-once delivery and no ordering: they retry
every non-2xx answer with growing delays, sometimes deliver an event twice,
and deliver events in whatever order their queues release them. The sender
reproduces that, scaled down in time and driven by one seeded
``random.Random`` so a demo run can be replayed exactly:

* retries: up to ``max_attempts`` per delivery on a non-2xx answer or a
  connection error, waiting ``backoff(n)`` before retry n (exponential, capped,
  no jitter so the schedule is testable);
* duplicates: when a delivery is released, with probability ``duplicate_rate``
  the same event is queued again; it is posted only after the original's
  attempts are over ("again, later"), re-signed with a fresh timestamp;
* reordering: up to ``shuffle_window`` events are held back and released in
  random order (0 keeps submission order); ``flush()`` releases the rest;
* concurrency: released deliveries run on ``workers`` threads.

The random draws happen only in the submitting thread, in submission order, so
the same seed and the same calls give the same release order and duplicates.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import requests

from refrain_tools.simulator.signing import adyen_request, basic_auth, stripe_signature

Transport = Callable[[str, bytes, dict[str, str], float], int]
"""POST (url, body, headers, timeout) → HTTP status; raises OSError / RequestException."""


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 5
    backoff_base_s: float = 0.05
    backoff_factor: float = 2.0
    backoff_max_s: float = 2.0
    duplicate_rate: float = 0.0
    shuffle_window: int = 0
    workers: int = 4
    timeout_s: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.workers < 1 or self.shuffle_window < 0:
            raise ValueError("max_attempts and workers must be >= 1, shuffle_window >= 0")
        if not 0.0 <= self.duplicate_rate <= 1.0:
            raise ValueError("duplicate_rate must be within [0, 1]")
        if self.backoff_base_s < 0 or self.backoff_factor < 1:
            raise ValueError("backoff_base_s must be >= 0 and backoff_factor >= 1")

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the second attempt)."""
        return float(
            min(self.backoff_base_s * self.backoff_factor ** (retry - 1), self.backoff_max_s)
        )

    def schedule(self) -> list[float]:
        """Every wait of a delivery that never succeeds."""
        return [self.backoff(n) for n in range(1, self.max_attempts)]


@dataclass
class DeliveryRecord:
    """One delivery (an original or a duplicate) and what each attempt got back."""

    seq: int
    provider: str
    event_id: str
    event_type: str
    duplicate: bool
    statuses: list[int | None] = field(default_factory=list)  # None: no HTTP answer
    outcome: str = "pending"  # pending | delivered | gave_up

    @property
    def final_status(self) -> int | None:
        return self.statuses[-1] if self.statuses else None


@dataclass(frozen=True)
class DeliveryStats:
    events: int
    deliveries: int
    sent: int
    retried: int
    duplicated: int
    reordered: int
    delivered: int
    gave_up: int
    final_statuses: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class _Delivery:
    path: str
    body: bytes
    record: DeliveryRecord
    after: Future[None] | None = None


class WebhookSender:
    """Deliver to ``base_url`` + ``/stripe`` | ``/adyen`` | ``/google-play`` | ``/apple``."""

    def __init__(
        self,
        base_url: str,
        *,
        stripe_secret: str | None = None,
        adyen_hmac_key: str | None = None,
        adyen_basic_auth: tuple[str, str] | None = None,
        policy: DeliveryPolicy | None = None,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stripe_path: str = "/stripe",
        adyen_path: str = "/adyen",
        push_token: Callable[[], str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or DeliveryPolicy()
        self._stripe_secret = stripe_secret
        self._adyen_key = adyen_hmac_key
        self._adyen_auth = adyen_basic_auth
        self._push_token = push_token  # a Google-signed ID token for each Play push
        self._paths = {
            "stripe": stripe_path, "adyen": adyen_path,
            "google_play": "/google-play", "apple": "/apple",
        }  # fmt: skip
        self._transport = transport or _RequestsTransport()
        self._sleep = sleep
        self._rng = random.Random(self.policy.seed)  # noqa: S311 - reproducible runs, not secrets
        self._lock = threading.Lock()
        self._held: list[_Delivery] = []
        self._futures: list[Future[None]] = []
        self._records: list[DeliveryRecord] = []
        self._events = self._duplicated = self._reordered = 0
        self._pool = ThreadPoolExecutor(self.policy.workers, thread_name_prefix="webhook-sender")

    # submitting ---------------------------------------------------------------

    def send_stripe(self, event: dict[str, Any]) -> None:
        """Queue one Stripe event (signed per attempt with the endpoint secret)."""
        if not self._stripe_secret:
            raise ValueError("this sender has no Stripe endpoint secret")
        body = json.dumps(event, indent=2).encode()
        record = self._record("stripe", str(event["id"]), str(event["type"]))
        self._submit(_Delivery(self._paths["stripe"], body, record))

    def send_adyen(self, item: dict[str, Any]) -> None:
        """Queue one NotificationRequestItem (one item per request, as JSON webhooks do)."""
        if not self._adyen_key:
            raise ValueError("this sender has no Adyen HMAC key")
        body = json.dumps(adyen_request([item], self._adyen_key)).encode()
        success = str(item.get("success")).lower()
        event_id = f"{item.get('pspReference')}:{item.get('eventCode')}:{success}"
        record = self._record("adyen", event_id, str(item.get("eventCode")))
        self._submit(_Delivery(self._paths["adyen"], body, record))

    def send_google_play(self, envelope: dict[str, Any], event_type: str) -> None:
        """Queue one Pub/Sub push of an RTDN (a redelivery keeps its ``messageId``)."""
        if self._push_token is None:
            raise ValueError("this sender has no Google push token signer")
        message_id = str(envelope["message"]["messageId"])
        record = self._record("google_play", message_id, event_type)
        body = json.dumps(envelope).encode()
        self._submit(_Delivery(self._paths["google_play"], body, record))

    def send_apple(self, body: dict[str, Any], notification_uuid: str, event_type: str) -> None:
        """Queue one App Store Server Notification V2 (``{"signedPayload": JWS}``)."""
        record = self._record("apple", notification_uuid, event_type)
        self._submit(_Delivery(self._paths["apple"], json.dumps(body).encode(), record))

    def flush(self, timeout: float | None = None) -> DeliveryStats:
        """Release everything held back and wait until each delivery succeeded or gave up."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._held:
                self._release(self._rng.randrange(len(self._held)))
        while True:
            with self._lock:
                pending = [f for f in self._futures if not f.done()]
            if not pending:
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"{len(pending)} webhook deliveries still running")
            wait(pending, timeout=left)
        for f in self._futures:
            f.result()  # surface a bug in a worker instead of hiding it
        return self.stats()

    def close(self) -> None:
        self.flush()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # reporting ----------------------------------------------------------------

    @property
    def records(self) -> list[DeliveryRecord]:
        with self._lock:
            return list(self._records)

    def stats(self) -> DeliveryStats:
        with self._lock:
            records = list(self._records)
            events, duplicated, reordered = self._events, self._duplicated, self._reordered
        finals = Counter(
            "error" if r.final_status is None else str(r.final_status)
            for r in records
            if r.outcome != "pending"
        )
        return DeliveryStats(
            events=events,
            deliveries=len(records),
            sent=sum(len(r.statuses) for r in records),
            retried=sum(max(0, len(r.statuses) - 1) for r in records),
            duplicated=duplicated,
            reordered=reordered,
            delivered=sum(1 for r in records if r.outcome == "delivered"),
            gave_up=sum(1 for r in records if r.outcome == "gave_up"),
            final_statuses=dict(sorted(finals.items())),
        )

    # machinery ----------------------------------------------------------------

    def _record(self, provider: str, event_id: str, event_type: str) -> DeliveryRecord:
        return DeliveryRecord(0, provider, event_id, event_type, duplicate=False)

    def _submit(self, delivery: _Delivery) -> None:
        with self._lock:
            self._events += 1
            self._held.append(delivery)
            while len(self._held) > self.policy.shuffle_window:
                self._release(self._rng.randrange(len(self._held)))

    def _release(self, index: int) -> None:
        """Hand held delivery ``index`` to the pool (lock held); maybe queue a duplicate."""
        if index:
            self._reordered += 1  # it overtakes an older held event
        delivery = self._held.pop(index)
        delivery.record.seq = len(self._records) + 1
        self._records.append(delivery.record)
        future = self._pool.submit(self._deliver, delivery)
        self._futures.append(future)
        if not delivery.record.duplicate and self._rng.random() < self.policy.duplicate_rate:
            self._duplicated += 1
            old = delivery.record
            again = DeliveryRecord(0, old.provider, old.event_id, old.event_type, duplicate=True)
            self._held.append(_Delivery(delivery.path, delivery.body, again, future))

    def _deliver(self, delivery: _Delivery) -> None:
        if delivery.after is not None:
            delivery.after.result()  # a duplicate comes after its original is settled
        record, policy = delivery.record, self.policy
        url = self.base_url + delivery.path
        for attempt in range(1, policy.max_attempts + 1):
            try:
                status: int | None = self._transport(
                    url, delivery.body, self._headers(delivery), policy.timeout_s
                )
            except (OSError, requests.RequestException):
                status = None
            record.statuses.append(status)
            if status is not None and 200 <= status < 300:
                record.outcome = "delivered"
                return
            if attempt < policy.max_attempts:
                self._sleep(policy.backoff(attempt))
        record.outcome = "gave_up"

    def _headers(self, delivery: _Delivery) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        provider = delivery.record.provider
        if provider == "stripe":
            assert self._stripe_secret is not None
            headers["Stripe-Signature"] = stripe_signature(delivery.body, self._stripe_secret)
            headers["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
        elif provider == "google_play":
            assert self._push_token is not None
            headers["Authorization"] = f"Bearer {self._push_token()}"
            headers["User-Agent"] = (
                "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"
            )
        elif provider == "adyen":
            headers["User-Agent"] = "Adyen HttpClient 1.0"
            if self._adyen_auth:
                headers["Authorization"] = basic_auth(*self._adyen_auth)
        return headers


class _RequestsTransport:
    """One requests.Session per worker thread (sessions are not shared across threads)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session.post(url, data=body, headers=headers, timeout=timeout).status_code
