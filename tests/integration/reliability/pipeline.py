"""The whole storm, stage by stage, and what it left behind (mails, invoices, rows, charges).

``run_pipeline(storm=True)``: webhook storm, then its messages downstream three
times each (receipts, churn rows), then the renewal tick and the charge worker
with every message three times, then the renewals' messages downstream. With
``storm=False`` the same corpus runs once, in order (the reference). Both end
in :class:`Counts`, read from where the effects landed: SES (moto), Firestore,
BigQuery and the sandbox gateway's own record of money movements.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from email.parser import HeaderParser
from typing import Any

from google.cloud import firestore

from refrain.adapters.bigquery import build_bigquery
from refrain.adapters.firestore import build_firestore
from refrain.adapters.firestore_collections import (
    CHARGES,
    INVOICES,
    OUTBOX,
    PARKED_EVENTS,
    RECEIPT_SENDS,
)
from refrain.adapters.firestore_outbox import events_of
from refrain.settings import CloudSettings
from refrain.topology import ANALYTICS_DATASET, CHURN_EXPORT_SUBSCRIPTION, RECEIPT_EVENT_TYPES
from refrain_tools.stack.config import StackConfig
from refrain_tools.stack.mailbox import sent_raw_mail
from tests.integration.reliability.downstream import (
    RECEIPT_SUBSCRIPTION,
    ChurnStats,
    RenewalStats,
    StageStats,
    churn_in_order,
    churn_storm,
    drain,
    receipt_storm,
    renewal_storm,
)
from tests.integration.reliability.storm import (
    Corpus,
    FinalState,
    StormStats,
    deliver_in_order,
    deliver_storm,
    final_state,
    settle_parked,
    storm_service,
)

RENEW_AFTER = timedelta(days=2)  # the tick runs this long after the corpus's last event


@dataclass
class Counts:
    """Effects, counted where they landed."""

    invoices: Counter[str] = field(default_factory=Counter)  # by kind
    mails: int = 0
    mails_per_document: Counter[int] = field(default_factory=Counter)  # mails -> documents
    mails_per_notice: Counter[int] = field(default_factory=Counter)
    documents_not_sent: list[str] = field(default_factory=list)  # no `sent` record
    rows: int = 0
    rows_per_signal: Counter[int] = field(default_factory=Counter)  # rows -> signals
    rows_by_type: Counter[str] = field(default_factory=Counter)
    signal_ids: set[str] = field(default_factory=set)
    charge_records: Counter[str] = field(default_factory=Counter)  # by status
    published: int = 0
    unpublished_outbox: int = 0
    events_by_subscription: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def receipt_events(self) -> Counter[str]:
        """Published events that lead to one customer e-mail each, by type."""
        out: Counter[str] = Counter()
        for by_type in self.events_by_subscription.values():
            out.update({t: n for t, n in by_type.items() if t in RECEIPT_EVENT_TYPES})
        return out

    def comparable(self) -> dict[str, Any]:
        """What must be the same after the storm and after the in-order run."""
        return {
            "invoices": dict(self.invoices),
            "mails": self.mails,
            "notices": sum(self.mails_per_notice.values()),
            "rows": self.rows,
            "rows_by_type": dict(self.rows_by_type),
            "charge_records": dict(self.charge_records),
        }


@dataclass
class PipelineRun:
    webhook: StormStats
    state: FinalState
    receipts: list[StageStats]
    churn: list[ChurnStats]
    renewals: RenewalStats
    counts: Counts
    pulled: dict[str, int]  # subscription -> distinct messages taken, both passes
    seconds: dict[str, float]


def published_events(
    db: firestore.Client, by_subscription: dict[str, Counter[str]] | None = None
) -> tuple[int, int]:
    """Domain events in published outbox records, and records still unpublished."""
    done = pending = 0
    for snap in db.collection(OUTBOX).select(["events", "published"]).stream():
        doc = snap.to_dict() or {}
        if doc.get("published"):
            done += len(doc.get("events") or [])
        elif doc.get("events"):
            pending += 1
        if by_subscription is not None:
            for event in events_of(doc):
                by_subscription.setdefault(event.subscription_id, Counter())[event.type.value] += 1
    return done, pending


def event_deficit(storm: Counts, reference: Counts) -> dict[str, dict[str, int]]:
    """Per subscription, domain events the reference published and the storm did not
    (negative: the storm published more)."""
    out: dict[str, dict[str, int]] = {}
    for sid in sorted(set(storm.events_by_subscription) | set(reference.events_by_subscription)):
        mine = storm.events_by_subscription.get(sid, Counter())
        theirs = reference.events_by_subscription.get(sid, Counter())
        if mine != theirs:
            out[sid] = {t: theirs[t] - mine[t] for t in sorted(set(mine) | set(theirs))}
            out[sid] = {t: n for t, n in out[sid].items() if n}
    return out


def run_pipeline(
    cloud: CloudSettings,
    config: StackConfig,
    corpus: Corpus,
    *,
    storm: bool,
    copies: int = 3,
    workers: int = 16,
    seed: int = 3,
    send_receipts: bool = True,
) -> PipelineRun:
    """``send_receipts=False`` (the bench's light reference) skips rendering and mailing;
    the documents it would have sent are then counted from the events (Counts.receipt_events)."""
    db = build_firestore(cloud)
    n = copies if storm else 1
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 2)
        clock = now

    service = storm_service(cloud)
    if storm:
        webhook = deliver_storm(service, corpus, copies=copies, seed=seed, workers=workers)
    else:
        webhook = deliver_in_order(service, corpus, workers=workers)
    webhook.swept = settle_parked(service)
    webhook.parked_left = len(list(db.collection(PARKED_EVENTS).stream()))
    state = final_state(db)
    lap("webhook")
    receipts: list[StageStats] = []
    churn: list[ChurnStats] = []
    pulled: Counter[str] = Counter()
    taken = 0

    def downstream(label: str) -> None:
        """Receipts and churn export consume at the same time, as their functions do."""
        nonlocal taken
        published, _ = published_events(db)
        fresh = published - taken
        taken = published
        mails = drain(cloud, RECEIPT_SUBSCRIPTION, fresh)
        rows = drain(cloud, CHURN_EXPORT_SUBSCRIPTION, fresh)
        pulled[RECEIPT_SUBSCRIPTION] += len(mails)
        pulled[CHURN_EXPORT_SUBSCRIPTION] += len(rows)
        with ThreadPoolExecutor(2, thread_name_prefix="consumers") as pool:
            sending = (
                pool.submit(receipt_storm, cloud, mails, copies=n, workers=workers, seed=seed)
                if send_receipts
                else None
            )
            if storm:
                exporting = pool.submit(
                    churn_storm, cloud, rows, copies=copies, workers=workers, seed=seed
                )
            else:
                exporting = pool.submit(churn_in_order, cloud, rows)
            if sending is not None:
                receipts.append(sending.result())
            churn.append(exporting.result())
        lap(f"downstream ({label})")

    downstream("webhook")
    at = corpus.last_event_at + RENEW_AFTER
    renewals = renewal_storm(cloud, at, copies=n, workers=workers, seed=seed)
    lap("renewals")
    downstream("renewals")
    for name in (RECEIPT_SUBSCRIPTION, CHURN_EXPORT_SUBSCRIPTION):  # a double publication
        pulled[f"{name} (left over)"] = len(drain(cloud, name, 10**9, timeout_s=2))
    counts = count_effects(cloud, config, db)
    counts.published = taken
    lap("counting")
    return PipelineRun(webhook, state, receipts, churn, renewals, counts, dict(pulled), seconds)


def count_effects(cloud: CloudSettings, config: StackConfig, db: firestore.Client) -> Counts:
    counts = Counts()
    per_notice: Counter[str] = Counter()
    parser = HeaderParser()
    for mail in sent_raw_mail(config):
        per_notice[str(parser.parsestr(str(mail.get("raw_data", "")))["X-Refrain-Notice"])] += 1
    counts.mails = sum(per_notice.values())
    documents = {}
    for snap in db.collection(INVOICES).select(["kind", "invoice_id"]).stream():
        data = snap.to_dict() or {}
        # By the invoice id the mails name; the document id is its storage encoding.
        documents[str(data.get("invoice_id"))] = data.get("kind")
    counts.invoices = Counter(str(k) for k in documents.values())
    counts.mails_per_document = Counter(per_notice.get(d, 0) for d in documents)
    counts.mails_per_notice = Counter(n for k, n in per_notice.items() if k not in documents)
    sent = {
        str((snap.to_dict() or {}).get("document_id"))
        for snap in db.collection(RECEIPT_SENDS).select(["status", "document_id"]).stream()
        if (snap.to_dict() or {}).get("status") == "sent"
    }
    counts.documents_not_sent = sorted(set(documents) - sent)
    counts.charge_records = Counter(
        str((snap.to_dict() or {}).get("status"))
        for snap in db.collection(CHARGES).select(["status"]).stream()
    )
    _, counts.unpublished_outbox = published_events(db, counts.events_by_subscription)
    table = f"{cloud.project}.{ANALYTICS_DATASET}.churn_signals"
    sql = f"SELECT signal_id, signal_type, COUNT(*) AS n FROM `{table}` GROUP BY 1, 2"
    for row in build_bigquery(cloud).query(sql).result():
        counts.rows += int(row["n"])
        counts.rows_per_signal[int(row["n"])] += 1
        counts.rows_by_type[str(row["signal_type"])] += int(row["n"])
        counts.signal_ids.add(str(row["signal_id"]))
    return counts


def figures(run: PipelineRun) -> list[str]:
    """The run as printable lines (bench and test output)."""
    c = run.counts
    lines = [f"webhook: {run.webhook.as_dict()}"]
    lines += [s.line() for s in run.receipts]
    lines += [s.line() for s in run.churn]
    lines.append(run.renewals.line())
    lines.append(f"pulled from subscriptions: {run.pulled}; published events {c.published}, "
                 f"outbox records unpublished {c.unpublished_outbox}")  # fmt: skip
    lines.append(f"documents {dict(c.invoices)}; mails {c.mails}; receipts per document "
                 f"{dict(sorted(c.mails_per_document.items()))}; mails per notice "
                 f"{dict(sorted(c.mails_per_notice.items()))}; documents without a sent "
                 f"record {len(c.documents_not_sent)}")  # fmt: skip
    lines.append(f"churn rows {c.rows}; rows per signal {dict(sorted(c.rows_per_signal.items()))}"
                 f"; by type {dict(sorted(c.rows_by_type.items()))}")  # fmt: skip
    lines.append(f"charge records by status {dict(c.charge_records)}")
    lines.append(f"wall time per stage (s): {run.seconds} (receipts and churn export overlap)")
    return lines
