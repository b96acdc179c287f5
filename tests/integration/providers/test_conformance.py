"""Conformance: what the real providers send is acknowledged, whatever Refrain makes of it.

The corpus is every provider payload vendored under tests/fixtures (Stripe test-mode
captures, Adyen's OpenAPI notification examples and signed items, Google's RTDN
examples, the App Store Server Library's notification payloads), plus Adyen items whose
references hold what real merchant references hold (``/``, ``\\``, ``:``, ``.``,
non-ASCII, very long). Each is signed the way its provider signs (our test keys) and
posted to the real webhook function on the emulators, into one database, as a merchant
account's traffic would arrive. Every one must be answered 2xx: applied, ignored or
parked, never left to the provider's retries; and the record of each request says
which.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from refrain_tools.simulator.apple import APP_APPLE_ID, BUNDLE_ID, apple_pki
from refrain_tools.simulator.google_play import google_signer
from tests.integration.ingest.conftest import ADYEN_KEY, STRIPE_SECRET
from tests.integration.providers.conftest import Stores
from tests.support import FIXTURES, adyen_auth, adyen_sign, stripe_header

APPLIED_OR_ACKNOWLEDGED = {
    "applied",
    "ignored",
    "parked",
    "unmatched",
    "duplicate",
    "stale",
    "illegal",
}
# What real merchant references hold (Adyen lets the merchant choose them freely).
REFERENCES = (
    "order/2026/12/0001",
    "C:\\shop\\order 7",
    "acct:42:checkout:retry",
    "..",
    ".",
    "__x__",
    "Bestellung-Müller-北京-🎵",
    "x" * 1600,
)


def _outcomes(stores: Stores) -> dict[str, str]:
    docs = stores.db.collection("webhook_audit").stream()
    return {d.id: str((d.to_dict() or {}).get("outcome")) for d in docs}


def _assert_all_acknowledged(stores: Stores, answers: dict[str, int], expected: int) -> None:
    refused = {name: status for name, status in answers.items() if not 200 <= status < 300}
    assert refused == {}, f"left to the provider's retries: {refused}"
    outcomes = _outcomes(stores)
    assert len(outcomes) == expected  # each authentic request stored once
    unknown = {
        k: v for k, v in outcomes.items() if not set(v.split(",")) <= APPLIED_OR_ACKNOWLEDGED
    }
    assert unknown == {}


def _stripe_corpus() -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted((FIXTURES / "stripe" / "events").glob("*.json"))}


def test_every_stripe_capture_is_acknowledged(door: Stores) -> None:
    answers = {}
    for name, body in _stripe_corpus().items():
        header = stripe_header(body, STRIPE_SECRET, int(time.time()))
        answer = door.client.post(
            "/stripe",
            data=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
        answers[name] = answer.status_code
    _assert_all_acknowledged(door, answers, len(answers))


def _adyen_items() -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    sources = sorted((FIXTURES / "adyen" / "upstream").glob("*.json"))
    sources += sorted(p for p in (FIXTURES / "adyen" / "signed").glob("*.json"))
    for path in sources:
        if path.name.startswith("NEGATIVE"):
            continue
        request = json.loads(path.read_text())
        for n, wrapper in enumerate(request["notificationItems"]):
            items[f"{path.parent.name}/{path.stem}/{n}"] = wrapper["NotificationRequestItem"]
    for n, reference in enumerate(REFERENCES):
        for name, item in list(items.items())[:6]:
            variant = copy.deepcopy(item)
            variant["merchantReference"] = reference
            variant["pspReference"] = f"{variant['pspReference']}R{n}"
            items[f"{name}@reference{n}"] = variant
    return items


def test_every_adyen_example_and_merchant_reference_is_accepted(door: Stores) -> None:
    answers = {}
    for name, item in _adyen_items().items():
        body = {
            "live": "false",
            "notificationItems": [{"NotificationRequestItem": adyen_sign(item, ADYEN_KEY)}],
        }
        answer = door.client.post("/adyen", json=body, headers=adyen_auth())
        answers[name] = answer.status_code
        assert answer.data == b"[accepted]", name
    _assert_all_acknowledged(door, answers, len(answers))


def test_every_google_play_example_is_acknowledged(door: Stores) -> None:
    answers = {}
    token = google_signer().token()
    for path in sorted((FIXTURES / "google_play").glob("push_*.json")):
        answer = door.client.post(
            "/google-play",
            data=path.read_bytes(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        answers[path.stem] = answer.status_code
    _assert_all_acknowledged(door, answers, len(answers))


def _apple_payload(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "apple" / "decoded_payloads" / f"{name}.json").read_text()))


def _as_our_app(payload: dict[str, Any]) -> dict[str, Any]:
    """The library's example, as our app's App Store would send it (bundle, sandbox)."""
    for key in ("data", "summary"):
        part = payload.get(key)
        if isinstance(part, dict):
            part.update(bundleId=BUNDLE_ID, environment="Sandbox")
            if "appAppleId" in part:
                part["appAppleId"] = APP_APPLE_ID
    token = payload.get("externalPurchaseToken")
    if isinstance(token, dict):  # no environment field: Apple prefixes sandbox ids instead
        token.update(bundleId=BUNDLE_ID, appAppleId=APP_APPLE_ID)
        token["externalPurchaseId"] = f"SANDBOX_{token['externalPurchaseId']}"
    return payload


def _apple_corpus() -> dict[str, dict[str, Any]]:
    pki = apple_pki()
    now = datetime.now(UTC)
    txn = _apple_payload("signedTransaction")
    txn.update(bundleId=BUNDLE_ID, environment="Sandbox")
    for field in ("purchaseDate", "originalPurchaseDate", "signedDate"):
        txn[field] = int((now - timedelta(days=3)).timestamp() * 1000)
    txn["expiresDate"] = int((now + timedelta(days=27)).timestamp() * 1000)
    renewal = _apple_payload("signedRenewalInfo")
    renewal.update(environment="Sandbox", signedDate=int(now.timestamp() * 1000) - 5000)
    corpus = {}
    for name in (
        "signedNotification",
        "signedSummaryNotification",
        "signedConsumptionRequestNotification",
        "signedExternalPurchaseTokenNotification",
    ):
        payload = _as_our_app(_apple_payload(name))
        payload["signedDate"] = int(now.timestamp() * 1000) - 1000
        data = payload.get("data")
        if isinstance(data, dict):
            if "signedTransactionInfo" in data:
                data["signedTransactionInfo"] = pki.sign(txn)
            if "signedRenewalInfo" in data:
                data["signedRenewalInfo"] = pki.sign(renewal)
        corpus[name] = {"signedPayload": pki.sign(payload)}
    return corpus


def test_every_app_store_example_is_acknowledged(door: Stores) -> None:
    answers = {}
    for name, body in _apple_corpus().items():
        answers[name] = door.post_apple(body).status_code
    _assert_all_acknowledged(door, answers, len(answers))


def test_the_corpus_is_the_vendored_fixtures(tmp_path: Path) -> None:
    """A new fixture joins the corpus by being vendored: the counts follow the folders."""
    assert len(_stripe_corpus()) == len(list((FIXTURES / "stripe" / "events").glob("*.json")))
    assert len(_adyen_items()) > len(REFERENCES) * 6
    assert set(_apple_corpus()) >= {"signedNotification", "signedSummaryNotification"}
