"""A corpus of Stripe events: one customer's flow of the 12 vendored fixture events, cloned.

The fixtures `evt_fixture0001` … `evt_fixture0012` under tests/fixtures/stripe/events
are one flow in id order: checkout.session.completed (subscription mode) →
customer.subscription.created / updated / deleted → invoice.finalized / paid /
payment_succeeded / payment_failed → charge.refunded → charge.dispute.created →
payment_intent.succeeded / payment_failed. Flow k gets its own event ids and its own
per-customer objects (`cus_ sub_ in_ ch_ pi_ …` + `PB<k>`); prices and products keep
their ids (one catalog). This is the clone rule of the dj-stripe peer benchmark's
corpus, so both implementations receive the same events.

One change to what the fixtures say: their times are placeholders (a subscription
period that ends before it starts, 2009 invoices), so each flow is dated around the
build time: the subscription's and the invoice's period is the month that started a
day ago, the event `created` times increase through the corpus (all in the past). A
webhook that checks periods (ours) then applies the flow instead of refusing its first
subscription event.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FLOW_FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "stripe" / "events"
FLOW_LENGTH = 12
PER_FLOW_PREFIXES = (
    "cus", "sub", "si", "in", "il", "ch", "pi", "txn", "dp", "cs_test",
    "card", "pm", "re", "src", "ii", "seti", "sli",
)  # fmt: skip
_ID = re.compile("^(" + "|".join(PER_FLOW_PREFIXES) + r")_(?=[a-z]*[0-9A-Z])[A-Za-z0-9]+$")
_FLOW_ID = re.compile(r"^evt_fixture00(0[1-9]|1[0-2])")
DAY = 86_400


def flow_fixtures(folder: Path = FLOW_FIXTURES) -> list[dict[str, Any]]:
    """The 12 events of the flow, in flow order."""
    events = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    flow = sorted((e for e in events if _FLOW_ID.match(e["id"])), key=lambda e: e["id"])
    if len(flow) != FLOW_LENGTH:
        raise ValueError(f"expected {FLOW_LENGTH} flow fixtures in {folder}, found {len(flow)}")
    return flow


def _ids(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for item in value.values():
            _ids(item, found)
    elif isinstance(value, list):
        for item in value:
            _ids(item, found)
    elif isinstance(value, str) and _ID.match(value):
        found.add(value)
    return found


def _rewrite(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _rewrite(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    if isinstance(value, str):
        return mapping.get(value, value)
    return value


def _dated(obj: dict[str, Any], now: int) -> None:
    """The subscription's and invoice's period: the month that began a day ago."""
    start, end = now - DAY, now - DAY + 30 * DAY
    for item in (obj.get("items") or {}).get("data") or []:
        item["current_period_start"], item["current_period_end"] = start, end
    for line in (obj.get("lines") or {}).get("data") or []:
        line["period"] = {"start": start, "end": end}
    if "next_payment_attempt" in obj:
        obj["next_payment_attempt"] = now + 3 * DAY


def build_corpus(
    n: int, now: int, fixtures: list[dict[str, Any]] | None = None, first_flow: int = 0
) -> list[bytes]:
    """n events (whole flows, the last one cut), each the exact bytes to sign and POST;
    flows numbered from `first_flow` (a warm-up corpus uses ids the measured one does not)."""
    flow = fixtures if fixtures is not None else flow_fixtures()
    per_flow = set[str]()
    for event in flow:
        _ids(event["data"], per_flow)
    bodies: list[bytes] = []
    k = first_flow
    while len(bodies) < n:
        mapping = {i: f"{i}PB{k:05d}" for i in per_flow}
        for j, fixture in enumerate(flow):
            if len(bodies) >= n:
                break
            event = dict(fixture)
            event["data"] = _rewrite(fixture["data"], mapping)
            event["id"] = f"evt_PB{k:05d}{j:02d}" + fixture["id"][len("evt_fixture0000") :][:12]
            event["created"] = now - n - 60 + len(bodies)  # in order, all in the past
            _dated(event["data"]["object"], now)
            bodies.append(json.dumps(event, separators=(",", ":")).encode())
        k += 1
    return bodies


def event_type(body: bytes) -> str:
    return str(json.loads(body)["type"])
