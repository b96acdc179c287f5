"""The simulated payments API, charged through the real renewal adapters (stripe, Adyen libs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from refrain.adapters.gateway_adyen import AdyenGateway
from refrain.adapters.gateway_stripe import StripeGateway
from refrain.domain import ManualClock
from refrain.domain.declines import DeclineCategory
from refrain.domain.money import Money
from refrain.renewals.gateway import ChargeStatus, GatewayCharge, GatewayUnavailable
from refrain_tools.simulator import DeliveryPolicy, GatewaySimulator, Kind, WebhookSender

ANCHOR = datetime(2026, 2, 1, tzinfo=UTC)
NOW = datetime(2026, 2, 1, 6, tzinfo=UTC)


class Inbox:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        self.bodies.append(json.loads(body))
        return 200


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def sim(inbox: Inbox) -> Iterator[GatewaySimulator]:
    sender = WebhookSender(
        "http://hooks.test",
        stripe_secret="whsec_x",
        adyen_hmac_key="00" * 32,
        transport=inbox,
        policy=DeliveryPolicy(workers=1),
    )
    with GatewaySimulator(clock=ManualClock(NOW), webhooks=sender, slow_answer_s=1.5) as server:
        yield server


def charge(
    method: str, sub: str = "sub_1", attempt: int = 0, currency: str = "EUR"
) -> GatewayCharge:
    return GatewayCharge(
        charge_id=f"{sub}:20260201T000000Z:{attempt}",
        subscription_id=sub,
        account_id=f"acct_{sub}",
        amount=Money(1099 if currency == "EUR" else 1080, currency),
        payment_method_ref=method,
        billing_anchor=ANCHOR,
        attempt=attempt,
    )


def stripe(sim: GatewaySimulator, timeout_s: float = 5.0) -> StripeGateway:
    return StripeGateway.create("sk_test_sim", api_base=sim.url, timeout_s=timeout_s)


def adyen(sim: GatewaySimulator, timeout_s: int = 5) -> AdyenGateway:
    return AdyenGateway.create("key", "RefrainECOM", checkout_url=sim.url, timeout_s=timeout_s)


def test_same_key_twice_is_one_charge_on_stripe_and_adyen(
    sim: GatewaySimulator, inbox: Inbox
) -> None:
    for gateway, method in ((stripe(sim), "cus_1:pm_ok"), (adyen(sim), "OK_TOKEN")):
        request = charge(method, sub=f"sub_{gateway.name}", currency="JPY")
        first, again = gateway.charge(request), gateway.charge(request)
        assert first.status is again.status is ChargeStatus.SUCCEEDED
        assert first.provider_ref == again.provider_ref
    assert sim.charges_by_key() == {
        "sub_stripe:20260201T000000Z:0": 1,
        "sub_adyen:20260201T000000Z:0": 1,
    }
    assert set(sim.requests_by_key().values()) == {2} and sim.replays == 2
    assert sim.successful_charges_per_period() == {
        ("sub_stripe", ANCHOR): 1,
        ("sub_adyen", ANCHOR): 1,
    }
    assert {c.amount for c in sim.charges()} == {Money(1080, "JPY")}
    sim.webhooks.flush()  # type: ignore[union-attr]
    kinds = [b.get("type") or "AUTHORISATION" for b in inbox.bodies]
    assert sorted(kinds) == ["AUTHORISATION", "payment_intent.succeeded"]  # one per charge
    stripe_event = next(b for b in inbox.bodies if "type" in b)
    assert stripe_event["created"] == int(NOW.timestamp())
    assert (
        stripe_event["data"]["object"]["metadata"]["charge_id"] == "sub_stripe:20260201T000000Z:0"
    )


@pytest.mark.parametrize(("method", "category", "hard"), [
    ("insufficient_funds", DeclineCategory.INSUFFICIENT_FUNDS, False),
    ("stolen", DeclineCategory.FRAUD_OR_STOLEN, True),
    ("expired", DeclineCategory.EXPIRED_CARD, True),
])  # fmt: skip
def test_declines_are_classified_alike_on_both_providers(
    sim: GatewaySimulator, method: str, category: DeclineCategory, hard: bool
) -> None:
    for gateway, ref in ((stripe(sim), f"cus_1:pm_{method}"), (adyen(sim), method.upper() + "_T")):
        result = gateway.charge(charge(ref, sub=f"sub_{gateway.name}"))
        assert result.status is ChargeStatus.DECLINED and result.decline is not None
        assert (result.decline.category, result.decline.hard) == (category, hard), gateway.name
    assert sim.successful_charges_per_period() == {}
    assert {c.outcome for c in sim.charges()} == {Kind.DECLINED}


def test_flaky_method_declines_twice_per_subscription_then_succeeds(sim: GatewaySimulator) -> None:
    gateway = stripe(sim)
    statuses = [gateway.charge(charge("cus_1:pm_flaky_2", attempt=n)).status for n in range(4)]
    assert statuses == [ChargeStatus.DECLINED] * 2 + [ChargeStatus.SUCCEEDED] * 2
    other = adyen(sim).charge(charge("FLAKY_2_T", sub="sub_other"))
    assert other.status is ChargeStatus.DECLINED
    assert sim.successful_charges_per_period() == {("sub_1", ANCHOR): 2}  # two attempts paid


def test_timeout_charges_once_and_the_retry_gets_the_stored_success(sim: GatewaySimulator) -> None:
    for gateway in (stripe(sim, timeout_s=0.5), adyen(sim, timeout_s=1)):
        ref = "cus_1:pm_timeout" if gateway.name == "stripe" else "TIMEOUT_T"
        request = charge(ref, sub=f"sub_{gateway.name}")
        with pytest.raises(GatewayUnavailable):
            gateway.charge(request)
        assert gateway.charge(request).status is ChargeStatus.SUCCEEDED
    assert set(sim.charges_by_key().values()) == {1} and sim.replays == 2


def test_unknown_methods_bad_requests_and_reused_keys_change_nothing(sim: GatewaySimulator) -> None:
    for gateway, ref in ((stripe(sim), "cus_1:pm_nobody"), (adyen(sim), "NOBODY")):
        result = gateway.charge(charge(ref, sub=f"sub_{gateway.name}"))
        assert result.status is ChargeStatus.DECLINED and result.decline is not None
    no_key = requests.post(f"{sim.url}/v1/payment_intents", data={"amount": "1"}, timeout=5)
    assert no_key.status_code == 401
    auth = {"Authorization": "Bearer sk_test_sim", "Idempotency-Key": "k1"}
    missing = requests.post(
        f"{sim.url}/v1/payment_intents", data={"amount": "1"}, headers=auth, timeout=5
    )
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "parameter_missing"
    bad = requests.post(
        f"{sim.url}/v71/payments", json={"amount": {}}, headers={"x-api-key": "k"}, timeout=5
    )
    assert bad.status_code == 422
    assert requests.post(f"{sim.url}/v1/customers", headers=auth, timeout=5).status_code == 404
    form = {
        "amount": "1099",
        "currency": "eur",
        "payment_method": "pm_ok",
        "confirm": "true",
        "off_session": "true",
    }
    first = requests.post(
        f"{sim.url}/v1/payment_intents",
        data=form,
        headers={**auth, "Idempotency-Key": "k2"},
        timeout=5,
    )
    again = requests.post(
        f"{sim.url}/v1/payment_intents",
        data=form,
        headers={**auth, "Idempotency-Key": "k2"},
        timeout=5,
    )
    assert (
        first.status_code == again.status_code == 200
        and again.headers["Idempotent-Replayed"] == "true"
    )
    changed = requests.post(
        f"{sim.url}/v1/payment_intents",
        data={**form, "amount": "2000"},
        headers={**auth, "Idempotency-Key": "k2"},
        timeout=5,
    )
    assert changed.status_code == 400 and changed.json()["error"]["type"] == "idempotency_error"
    assert sim.charges_by_key() == {"k2": 1} and sim.successful_charges_per_period() == {}


def test_env_points_the_wiring_at_the_simulator(
    sim: GatewaySimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from refrain.bootstrap import build_gateways

    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    router = build_gateways()
    assert (
        router.for_provider("stripe").charge(charge("cus_9:pm_ok", sub="s9")).status
        is ChargeStatus.SUCCEEDED
    )
    assert (
        router.for_provider("adyen").charge(charge("OK_9", sub="a9")).status
        is ChargeStatus.SUCCEEDED
    )
    assert sim.successful_charges_per_period() == {("s9", ANCHOR): 1, ("a9", ANCHOR): 1}


def test_saved_customers_answer_like_stripe_and_their_invoice_default_is_charged(
    sim: GatewaySimulator,
) -> None:
    from refrain_tools.simulator.stripe_checkout import stripe_customer

    sim.save_customer(stripe_customer("cus_d", email="d@example.com", at=NOW,
                                      default_payment_method="pm_ok_default"))  # fmt: skip
    gateway = stripe(sim)
    assert gateway.invoice_default("cus_d") == "pm_ok_default"  # through the stripe library
    assert gateway.charge(charge("cus_d", sub="sub_d")).status is ChargeStatus.SUCCEEDED
    [record] = sim.charges()
    assert (record.customer, record.method) == ("cus_d", "pm_ok_default")
    auth = {"Authorization": "Bearer sk_test_sim"}
    gone = requests.get(f"{sim.url}/v1/customers/cus_nobody", headers=auth, timeout=5)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "resource_missing"
    assert requests.get(f"{sim.url}/v1/customers/cus_d", timeout=5).status_code == 401
    declined = gateway.charge(charge("cus_nobody", sub="sub_gone"))
    assert declined.decline is not None and declined.decline.hard
