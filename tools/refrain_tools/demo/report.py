"""What the demo run produced, and whether every invariant of DESIGN.md held.

Everything here is read back from the stores the system wrote (Firestore,
BigQuery, the SES stand-in, Pub/Sub dead-letter holds) and from the
provider simulator's own counters; nothing is taken from the scenario's plan.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.cloud import bigquery, firestore

from refrain.adapters.firestore_collections import (
    INVOICES,
    OUTBOX,
    PARKED_EVENTS,
    RECEIPT_SENDS,
    SUBSCRIPTIONS,
)
from refrain.domain.invariants import check_invariants
from refrain.domain.money import Money, format_money
from refrain.domain.subscription import Subscription
from refrain.topology import ANALYTICS_DATASET

SIGNALS_QUERY = (
    "SELECT signal_type, COUNT(*) AS signals, COUNT(DISTINCT signal_id) AS distinct_ids\n"
    "FROM `{table}`\nGROUP BY signal_type\nORDER BY signals DESC"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Summary:
    states: Counter[str] = field(default_factory=Counter)
    # (billing mode, provider) → subscribers by final state
    modes: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    revenue: dict[str, Money] = field(default_factory=dict)
    receipts_sent: int = 0
    sample_html: Path | None = None
    sample_pdf: Path | None = None
    signals: list[tuple[str, int]] = field(default_factory=list)
    signals_query: str = ""
    dead_letters: dict[str, int] = field(default_factory=dict)
    parked: Counter[str] = field(default_factory=Counter)  # by what they wait for
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def subscriptions(db: firestore.Client) -> list[Subscription]:
    return [
        Subscription.from_dict(s.to_dict() or {}) for s in db.collection(SUBSCRIPTIONS).stream()
    ]


# How the summary names who bills: (billing mode, provider) → (mode, provider) labels.
_MODE_LABELS = {"merchant_managed": "merchant-managed", "provider_managed": "provider-managed"}
_PROVIDER_LABELS = {
    ("merchant_managed", "stripe"): "Stripe (cards, renewed by Refrain)",
    ("merchant_managed", "adyen"): "Adyen (cards, renewed by Refrain)",
    ("provider_managed", "stripe"): "Stripe Billing",
    ("provider_managed", "google_play"): "Google Play",
    ("provider_managed", "apple"): "App Store",
}


def mode_label(billing_mode: str, provider: str) -> tuple[str, str]:
    label = _PROVIDER_LABELS.get((billing_mode, provider), provider)
    return _MODE_LABELS.get(billing_mode, billing_mode), label


def summarise_subscriptions(db: firestore.Client, summary: Summary) -> None:
    subs = subscriptions(db)
    broken = {s.subscription_id: check_invariants(s) for s in subs}
    broken = {k: v for k, v in broken.items() if v}
    for sub in subs:
        label = sub.state.value + (" (cancels at period end)" if sub.cancel_at_period_end else "")
        summary.states[label] += 1
        mode = mode_label(sub.billing_mode.value, sub.provider)
        summary.modes.setdefault(mode, Counter())[label] += 1
    summary.checks.append(
        Check(
            "every stored subscription is a valid state-machine state",
            not broken,
            f"{len(subs)} checked"
            if not broken
            else f"violations: {dict(list(broken.items())[:3])}",
        )
    )


def summarise_money(db: firestore.Client, summary: Summary) -> None:
    totals: dict[str, int] = defaultdict(int)
    series: dict[str, list[int]] = defaultdict(list)
    for snap in db.collection(INVOICES).stream():
        doc = snap.to_dict() or {}
        gross = doc["totals"]["gross"]
        sign = -1 if doc["kind"] == "credit_note" else 1
        if not isinstance(gross["amount"], int):
            summary.checks.append(Check("money is integer minor units", False, str(gross)))
        totals[gross["currency"]] += sign * int(gross["amount"])
        if doc.get("sequence") is not None:
            series[doc["series"]].append(int(doc["sequence"]))
    summary.revenue = {cur: Money(amount, cur) for cur, amount in sorted(totals.items())}
    gaps = {s: sorted(n) for s, n in series.items() if sorted(n) != list(range(1, len(n) + 1))}
    summary.checks.append(
        Check(
            "invoice numbers are gapless and unique in every series",
            not gaps,
            f"{sum(len(n) for n in series.values())} invoices in {len(series)} series"
            if not gaps
            else f"gaps or repeats in {sorted(gaps)[:3]}",
        )
    )


def summarise_receipts(
    db: firestore.Client, raw_mail: list[dict[str, Any]], out_dir: Path, summary: Summary
) -> None:
    sends = [s.to_dict() or {} for s in db.collection(RECEIPT_SENDS).stream()]
    sent = [s for s in sends if s.get("status") == "sent"]
    summary.receipts_sent = len(raw_mail)
    per_document = Counter(str(s.get("document_id")) for s in sent)
    twice = [d for d, n in per_document.items() if n > 1]
    summary.checks.append(
        Check(
            "one e-mail per paid invoice (never two for a redelivered event)",
            not twice and len(sent) == len(raw_mail),
            f"{len(raw_mail)} e-mails accepted by SES, {len(sent)} sends recorded",
        )
    )
    for message in raw_mail:
        parsed = email.message_from_string(
            str(message.get("raw_data", "")), policy=email.policy.default
        )
        html = pdf = None
        for part in parsed.walk():
            if part.get_content_type() == "text/html":
                html = part.get_content()
            elif part.get_content_type() == "application/pdf":
                pdf = part.get_payload(decode=True)
        if html and pdf:
            out_dir.mkdir(parents=True, exist_ok=True)
            summary.sample_html = out_dir / "sample_receipt.html"
            summary.sample_html.write_text(str(html))
            summary.sample_pdf = out_dir / "sample_receipt.pdf"
            summary.sample_pdf.write_bytes(bytes(pdf))
            break


def summarise_signals(client: bigquery.Client, project: str, summary: Summary) -> None:
    table = f"{project}.{ANALYTICS_DATASET}.churn_signals"
    summary.signals_query = SIGNALS_QUERY.format(table=table)
    rows = list(client.query(summary.signals_query).result())
    summary.signals = [(r.signal_type, int(r.signals)) for r in rows]
    duplicates = sum(int(r.signals) - int(r.distinct_ids) for r in rows)
    summary.checks.append(
        Check(
            "one churn-signal row per signal",
            duplicates == 0 and bool(rows),
            f"{sum(n for _, n in summary.signals)} rows, {duplicates} duplicates",
        )
    )
    leaks = 0
    for row in client.query(f"SELECT * FROM `{table}`").result():  # noqa: S608
        text = " ".join(str(v) for v in row.values())
        if _EMAIL.search(text) or "acct_demo_" in text:
            leaks += 1
    summary.checks.append(
        Check("analytics rows are pseudonymous", leaks == 0, f"{leaks} rows with personal data")
    )


def check_outbox(db: firestore.Client, summary: Summary) -> None:
    records = [s.to_dict() or {} for s in db.collection(OUTBOX).stream()]
    unpublished = sum(1 for r in records if not r.get("published"))
    statuses = Counter(str(r.get("status")) for r in records)
    summary.checks.append(
        Check(
            "every committed domain event was published (transactional outbox)",
            unpublished == 0,
            f"{len(records)} ledger records {dict(statuses)}; {unpublished} unpublished",
        )
    )


def summarise_parked(db: firestore.Client, summary: Summary) -> None:
    """Authentic events nothing could apply (yet), by what they wait for."""
    for snap in db.collection(PARKED_EVENTS).stream():
        doc = snap.to_dict() or {}
        waits = str(doc.get("waits_for") or "operator").split(":", 1)[0]
        summary.parked[f"{doc.get('provider')} {doc.get('event_type')} (waits for {waits})"] += 1


def check_acknowledged(deliveries: dict[str, Any], summary: Summary) -> None:
    """Every notification ended 2xx (stored, applied or parked), none given up by a provider."""
    finals = {str(k): int(v) for k, v in dict(deliveries.get("final_statuses") or {}).items()}
    refused = {k: n for k, n in finals.items() if not k.startswith("2")}
    summary.checks.append(
        Check(
            "every authentic notification acknowledged once stored (invariant 9)",
            not refused and not deliveries.get("gave_up"),
            f"{sum(finals.values())} deliveries answered 2xx, {sum(summary.parked.values())} "
            f"events parked"
            if not refused
            else f"refused: {refused}",
        )
    )


def check_charges(per_period: dict[Any, int], summary: Summary) -> None:
    twice = {k: n for k, n in per_period.items() if n > 1}
    summary.checks.append(
        Check(
            "no subscription period charged twice (counted at the gateway)",
            not twice,
            f"{sum(per_period.values())} successful renewal charges"
            if not twice
            else f"charged twice: {list(twice)[:3]}",
        )
    )


def check_provider_managed_uncharged(
    db: firestore.Client, charged: set[str], summary: Summary
) -> None:
    """The provider renews a provider-managed subscription: Refrain never charges one."""
    mirrored = {
        s.subscription_id for s in subscriptions(db) if s.billing_mode.value != "merchant_managed"
    }
    wrong = sorted(mirrored & charged)
    summary.checks.append(
        Check(
            "provider-managed subscriptions are never charged by Refrain",
            not wrong,
            f"{len(mirrored)} mirrored, 0 charged at the gateway"
            if not wrong
            else f"charged: {wrong[:3]}",
        )
    )


def check_dead_letters(held: dict[str, int], summary: Summary) -> None:
    summary.dead_letters = held
    summary.checks.append(
        Check(
            "dead-letter topics are empty",
            not any(held.values()),
            ", ".join(f"{t}: {n}" for t, n in held.items() if n) or f"{len(held)} topics empty",
        )
    )


def revenue_lines(summary: Summary) -> list[tuple[str, str]]:
    return [(cur, format_money(money, "en_US")) for cur, money in summary.revenue.items()]
