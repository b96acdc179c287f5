"""WebhookSender: backoff, give-up, seeded reordering and duplicates, counters."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from refrain.domain.money import Money
from refrain.providers.adyen_webhook import notification_items, verify_adyen
from refrain.providers.stripe_signature import verify_stripe
from refrain_tools.simulator import events
from refrain_tools.simulator.delivery import DeliveryPolicy, WebhookSender

SECRET = "whsec_sim"
KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
AT = datetime(2026, 1, 1, tzinfo=UTC)


class FakeEndpoint:
    """Records what arrives; answers from a script per event id (default 200)."""

    def __init__(self, script: dict[str, list[int | None]] | None = None) -> None:
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        payload = json.loads(body)
        if "notificationItems" in payload:
            verify_adyen(notification_items(payload), KEY)
            event_id = payload["notificationItems"][0]["NotificationRequestItem"]["pspReference"]
        else:
            verify_stripe(body, headers["Stripe-Signature"], [SECRET])
            event_id = payload["id"]
        with self.lock:
            self.calls.append((url, event_id, headers))
            answers = self.script.get(event_id)
            status = answers.pop(0) if answers else 200
        if status is None:
            raise ConnectionError("refused")
        return status

    def order(self) -> list[str]:
        return [event_id for _, event_id, _ in self.calls]


def _events(n: int) -> list[dict[str, object]]:
    return [events.stripe_event("invoice.paid", {}, AT, event_id=f"evt_{i:03d}") for i in range(n)]


def _sender(
    endpoint: FakeEndpoint, sleeps: list[float] | None = None, **policy: object
) -> WebhookSender:
    return WebhookSender(
        "http://hooks.test/",
        stripe_secret=SECRET,
        adyen_hmac_key=KEY,
        policy=DeliveryPolicy(**policy),  # type: ignore[arg-type]
        transport=endpoint,
        sleep=(sleeps.append if sleeps is not None else lambda _: None),
    )


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    yield FakeEndpoint()


def test_backoff_schedule_is_exponential_and_capped() -> None:
    policy = DeliveryPolicy(
        max_attempts=6, backoff_base_s=0.05, backoff_factor=2, backoff_max_s=0.5
    )
    assert policy.schedule() == [0.05, 0.1, 0.2, 0.4, 0.5]


@pytest.mark.parametrize(
    "bad",
    [{"max_attempts": 0}, {"workers": 0}, {"shuffle_window": -1}, {"duplicate_rate": 1.5},
     {"backoff_factor": 0.5}],
)  # fmt: skip
def test_bad_policies_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DeliveryPolicy(**bad)  # type: ignore[arg-type]


def test_retries_until_2xx_then_stops_and_gives_up_after_max_attempts() -> None:
    endpoint = FakeEndpoint({"evt_000": [500, None, 422, 200], "evt_001": [503] * 10})
    sleeps: list[float] = []
    sender = _sender(endpoint, sleeps, max_attempts=4, workers=1, backoff_base_s=0.05)
    for event in _events(2):
        sender.send_stripe(event)
    stats = sender.flush(timeout=10)
    assert Counter(endpoint.order()) == {"evt_000": 4, "evt_001": 4}
    assert sleeps == [0.05, 0.1, 0.2] * 2
    assert (stats.sent, stats.retried, stats.delivered, stats.gave_up) == (8, 6, 1, 1)
    assert stats.final_statuses == {"200": 1, "503": 1}
    first, second = sender.records
    assert first.statuses == [500, None, 422, 200] and first.outcome == "delivered"
    assert second.outcome == "gave_up"


def test_window_zero_and_one_worker_keep_submission_order(endpoint: FakeEndpoint) -> None:
    sender = _sender(endpoint, workers=1, shuffle_window=0)
    for event in _events(20):
        sender.send_stripe(event)
    stats = sender.flush()
    assert endpoint.order() == [f"evt_{i:03d}" for i in range(20)]
    assert stats.reordered == 0 and stats.duplicated == 0 and stats.events == 20


def _run(seed: int, **policy: Any) -> tuple[list[str], list[bool]]:
    endpoint = FakeEndpoint()
    sender = _sender(endpoint, workers=1, seed=seed, **policy)
    for event in _events(30):
        sender.send_stripe(event)
    sender.flush()
    return endpoint.order(), [r.duplicate for r in sender.records]


def test_shuffle_window_reorders_reproducibly_per_seed() -> None:
    order, _ = _run(7, shuffle_window=4)
    assert order == _run(7, shuffle_window=4)[0]
    assert order != _run(8, shuffle_window=4)[0]
    assert sorted(order) == [f"evt_{i:03d}" for i in range(30)] and order != sorted(order)
    # nothing is held back further than the window allows
    assert all(order.index(f"evt_{i:03d}") >= i - 4 for i in range(30))


def test_duplicates_arrive_after_their_original_with_a_fresh_signature() -> None:
    endpoint = FakeEndpoint()
    sender = _sender(endpoint, workers=3, seed=3, duplicate_rate=0.5, shuffle_window=2)
    for event in _events(30):
        sender.send_stripe(event)
    stats = sender.flush()
    order = endpoint.order()
    counts = Counter(order)
    assert set(counts.values()) <= {1, 2} and set(counts) == {f"evt_{i:03d}" for i in range(30)}
    assert stats.duplicated == sum(1 for n in counts.values() if n == 2) > 0
    assert stats.deliveries == 30 + stats.duplicated and stats.delivered == stats.deliveries
    originals = {r.event_id: r.seq for r in sender.records if not r.duplicate}
    for record in sender.records:
        if record.duplicate:
            assert record.seq > originals[record.event_id]
    assert _run(3, duplicate_rate=0.5, shuffle_window=2) == _run(
        3, duplicate_rate=0.5, shuffle_window=2
    )


def test_adyen_items_are_signed_posted_to_adyen_with_basic_auth(endpoint: FakeEndpoint) -> None:
    sender = WebhookSender(
        "http://hooks.test",
        adyen_hmac_key=KEY,
        adyen_basic_auth=("user", "pass"),
        transport=endpoint,
        policy=DeliveryPolicy(workers=1),
    )
    item = events.adyen_renewal(
        at=AT, reference="s:20260101T000000Z:0", amount=Money(100, "EUR"), authorised=True,
        psp_reference="PSP_A",
    )  # fmt: skip
    with sender:
        sender.send_adyen(item)
    ((url, event_id, headers),) = endpoint.calls
    assert url == "http://hooks.test/adyen" and event_id == "PSP_A"
    assert headers["Authorization"] == "Basic dXNlcjpwYXNz"
    assert sender.records[0].event_id == "PSP_A:AUTHORISATION:true"


def test_sending_without_the_providers_secret_is_refused(endpoint: FakeEndpoint) -> None:
    sender = WebhookSender("http://hooks.test", transport=endpoint)
    with pytest.raises(ValueError, match="Stripe"):
        sender.send_stripe(_events(1)[0])
    with pytest.raises(ValueError, match="Adyen"):
        sender.send_adyen({})
    assert sender.flush().events == 0 and endpoint.calls == []


def test_app_store_notifications_go_to_their_routes_with_their_credentials() -> None:
    calls: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    def endpoint(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        calls.append((url, json.loads(body), headers))
        return 200

    tokens = iter(["token-1", "token-2"])
    sender = WebhookSender("http://hooks.test", transport=endpoint, push_token=lambda: next(tokens))
    push = {"message": {"messageId": "42", "data": "e30="}, "subscription": "s"}
    sender.send_google_play(push, "SUBSCRIPTION_PURCHASED")
    sender.send_apple({"signedPayload": "a.b.c"}, "uuid-1", "SUBSCRIBED.INITIAL_BUY")
    stats = sender.flush()
    assert stats.delivered == 2
    by_url = {url: (body, headers) for url, body, headers in calls}
    body, headers = by_url["http://hooks.test/google-play"]
    assert body == push and headers["Authorization"] == "Bearer token-1"
    body, headers = by_url["http://hooks.test/apple"]
    assert body == {"signedPayload": "a.b.c"} and "Authorization" not in headers
    assert {(r.provider, r.event_id) for r in sender.records} == {
        ("google_play", "42"),
        ("apple", "uuid-1"),
    }
    with pytest.raises(ValueError, match="push token"):
        WebhookSender("http://hooks.test", transport=endpoint).send_google_play(push, "x")
