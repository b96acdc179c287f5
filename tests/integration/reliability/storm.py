"""A webhook storm: a simulator corpus delivered three times, shuffled, 16 at a time.

Shared by tests/integration/reliability/test_storm.py (a small storm) and
bench/storm.py (the full one). The corpus is one the state machine can
order: every subscription's events carry increasing provider times, and
events that need their subscription (refunds, chargebacks, invoices, an
``updated`` ahead of its ``created``) are answered 200 and parked until it
exists (refrain.ingest.parking): no delivery needs a provider retry, except
after a transient 503.
Stripe Billing subscriptions also get their subscription-mode Checkout (it
carries the customer's e-mail, so their receipts can be sent), and
merchant-managed ones carry sandbox test payment methods
(:func:`payment_method`) so the renewal stage charges, times out once, or declines.

Final state compared between the storm and an in-order single delivery:
subscriptions (state, period, paid-through, counters, cancellation), the
outbox record set (one per provider event) and the provider reference index.
What is left out on purpose: ``version``/``sequence``/``watermarks``/
``recent_input_ids`` (bookkeeping of *how* the state was reached: a stale
report that arrived late is counted in neither, but one that arrived early
and was overtaken bumps the version) and the outbox entry's ``status``
(the same event is ``applied`` in order and may be ``stale`` when a newer
report overtook it; the resulting subscription is the same).

Provider-managed mirrors (Stripe Billing) converge too, ``renewal_count``
included: an ``updated`` that overtakes ``created`` no longer starts the mirror
at a later period; it is parked and applied after ``created``, in Stripe's order.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from google.cloud import firestore

from refrain.adapters.firestore_collections import OUTBOX, PROVIDER_REFS, SUBSCRIPTIONS
from refrain.bootstrap import build_webhook_service
from refrain.domain import load_catalog
from refrain.ingest.model import subscription_id_for
from refrain.ingest.parking import LONGEST_WAIT
from refrain.ingest.routes import WebhookSettings
from refrain.ingest.service import WebhookService
from refrain.providers.adyen_webhook import checkout_reference
from refrain.renewals import sandbox
from refrain.settings import CloudSettings
from refrain_tools.simulator import events
from refrain_tools.simulator.signing import adyen_request, stripe_signature
from tests.support import ADYEN_AUTH_ENV, adyen_auth

STRIPE_SECRET = "whsec_refrain_storm"  # a local test secret, not a real one
ADYEN_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
CATALOG = load_catalog()
COMPARED_FIELDS = (
    "state",
    "billing_mode",
    "plan",
    "price",
    "current_period_start",
    "current_period_end",
    "paid_through",
    "renewal_count",
    "failed_attempts",
    "attempt",
    "cancel_at_period_end",
    "churn_type",
    "ended_at",
    "payment_method_ref",
)
MARKETS = (("SE", "sv_SE"), ("DE", "de_DE"), ("GB", "en_GB"), ("US", "en_US"), ("JP", "ja_JP"))


@dataclass(frozen=True)
class Delivery:
    """One provider event: where it goes, what is posted, and whose subscription it is."""

    provider: str  # stripe | adyen
    at: datetime
    payload: dict[str, Any]
    subscription: str = ""


@dataclass
class Corpus:
    deliveries: list[Delivery] = field(default_factory=list)
    subscriptions: set[str] = field(default_factory=set)

    def add(self, provider: str, at: datetime, payload: dict[str, Any], sub: str = "") -> None:
        self.deliveries.append(Delivery(provider, at, payload, sub))

    def in_order(self) -> list[Delivery]:
        return sorted(self.deliveries, key=lambda d: d.at)

    def per_subscription(self) -> list[list[Delivery]]:
        """Each subscription's events in provider-time order (see :func:`deliver_in_order`)."""
        groups: dict[str, list[Delivery]] = {}
        for d in self.in_order():
            groups.setdefault(d.subscription, []).append(d)
        return list(groups.values())

    @property
    def inputs(self) -> int:
        """Provider inputs: a checkout PaymentIntent that saved the card carries two."""
        saved = sum(
            1
            for d in self.deliveries
            if d.payload.get("type") == "payment_intent.succeeded"
            and d.payload["data"]["object"].get("setup_future_usage") == "off_session"
        )
        return len(self.deliveries) + saved

    @property
    def last_event_at(self) -> datetime:
        return max(d.at for d in self.deliveries)


def build_corpus(target_events: int, *, seed: int = 7, start: datetime | None = None) -> Corpus:
    """About ``target_events`` events over Stripe merchant, Stripe Billing and Adyen."""
    rng = random.Random(seed)
    base = start or datetime.now(UTC) - timedelta(days=45)
    corpus = Corpus()
    i = 0
    while len(corpus.deliveries) < target_events:
        market, locale = MARKETS[i % len(MARKETS)]
        plan = ("individual_monthly", "duo_monthly")[i % 2]
        flow = (_stripe_merchant, _stripe_billing, _adyen)[i % 3]
        if flow is _adyen and CATALOG.market(market).tax_source == "address":
            market, locale = "GB", "en_GB"  # Adyen computes no address-based tax: refused
        amount = CATALOG.price(plan, market)
        t0 = base + timedelta(minutes=i * 3 + rng.randrange(3))
        flow(corpus, i, t0, plan, market, locale, amount)
        i += 1
    return corpus


def payment_method(i: int) -> str:
    """Sandbox test methods (renewals): mostly OK, some time out once, some decline."""
    return {3: sandbox.INSUFFICIENT_FUNDS, 4: sandbox.TIMEOUT}.get((i // 3) % 5, sandbox.OK)


def _stripe_merchant(
    corpus: Corpus, i: int, t0: datetime, plan: str, market: str, locale: str, amount: Any
) -> None:
    sub_id, pi = f"storm_sm_{i:06d}", f"pi_storm_{i:06d}"
    corpus.subscriptions.add(sub_id)
    checkout = events.checkout_session_completed(
        at=t0, subscription_id=sub_id, account_id=f"acct_sm_{i}", plan=plan, market=market,
        amount=amount, email=f"sm{i}@example.com", locale=locale, payment_intent=pi,
        customer=f"cus_sm_{i:06d}",
    )  # fmt: skip
    corpus.add("stripe", t0, checkout, sub_id)
    # the card renewals charge: the PaymentIntent saved it (setup_future_usage), as on Stripe
    at = t0 + timedelta(seconds=1)
    saved = events.payment_intent(
        at=at, amount=amount, customer=f"cus_sm_{i:06d}", payment_method=payment_method(i),
        metadata={}, succeeded=True, pi_id=pi, setup_future_usage="off_session",
    )  # fmt: skip
    corpus.add("stripe", at, events.payment_intent_event(saved, at), sub_id)
    meta = {"subscription_id": sub_id}
    if i % 4 == 0:
        at = t0 + timedelta(hours=2)
        refund = events.charge_refunded(at=at, payment_intent=pi, amount=amount, metadata=meta)
        corpus.add("stripe", at, refund, sub_id)
    elif i % 4 == 3:
        at = t0 + timedelta(hours=3)
        dispute = events.dispute_created(at=at, payment_intent=pi, amount=amount, metadata=meta)
        corpus.add("stripe", at, dispute, sub_id)


def _billing_checkout(
    at: datetime, stripe_sub: str, customer: str, account_id: str, **details: Any
) -> dict[str, Any]:
    """A subscription-mode Checkout: ignored for state, it carries the customer's e-mail."""
    event = events.checkout_session_completed(at=at, account_id=account_id, **details)
    session = event["data"]["object"]
    session.update(mode="subscription", subscription=stripe_sub, customer=customer)
    session["payment_intent"] = None
    return event


def _stripe_billing(
    corpus: Corpus, i: int, t0: datetime, plan: str, market: str, locale: str, amount: Any
) -> None:
    stripe_sub, customer = f"sub_storm_{i:06d}", f"cus_storm_{i:06d}"
    sid = subscription_id_for("stripe", stripe_sub)
    corpus.subscriptions.add(sid)
    p1, p2 = t0 + timedelta(days=30), t0 + timedelta(days=60)
    common = {"stripe_subscription": stripe_sub, "customer": customer, "amount": amount}
    sub = {**common, "account_id": f"acct_sb_{i}", "plan": plan, "market": market}
    created = events.billing_subscription("created", at=t0, period_start=t0, period_end=p1, **sub)
    corpus.add("stripe", t0, created, sid)
    at = t0 + timedelta(seconds=2)
    checkout = _billing_checkout(
        at, stripe_sub, customer, f"acct_sb_{i}", subscription_id=sid, plan=plan,
        market=market, amount=amount, email=f"sb{i}@example.com", locale=locale,
    )  # fmt: skip
    corpus.add("stripe", at, checkout, sid)
    at = t0 + timedelta(seconds=5)
    first = events.billing_invoice(at=at, period_start=t0, period_end=p1, paid=True, **common)
    corpus.add("stripe", at, first, sid)
    second = events.billing_invoice(at=p1, period_start=p1, period_end=p2, paid=True, **common)
    corpus.add("stripe", p1, second, sid)
    if i % 2 == 0:
        at = p1 + timedelta(days=3)
        corpus.add(
            "stripe",
            at,
            events.billing_subscription(
                "updated", at=at, period_start=p1, period_end=p2, cancel_at_period_end=True,
                cancellation_reason="cancellation_requested", **sub,
            ),
            sid,
        )  # fmt: skip


def _adyen(
    corpus: Corpus, i: int, t0: datetime, plan: str, market: str, locale: str, amount: Any
) -> None:
    sub_id, psp = f"storm_ad_{i:06d}", f"PSPSTORM{i:08d}"
    corpus.subscriptions.add(sub_id)
    checkout = events.adyen_checkout(
        at=t0, subscription_id=sub_id, account_id=f"acct_ad_{i}", plan=plan, market=market,
        amount=amount, email=f"ad{i}@example.com", locale=locale, token=payment_method(i),
        psp_reference=psp,
    )  # fmt: skip
    corpus.add("adyen", t0, checkout, sub_id)
    if i % 2 == 0:
        at = t0 + timedelta(hours=1)
        refund = events.adyen_refund(
            at=at, original_reference=psp, amount=amount,
            merchant_reference=checkout_reference(sub_id, f"acct_ad_{i}", plan, market),
        )  # fmt: skip
        corpus.add("adyen", at, refund, sub_id)


def storm_service(cloud: CloudSettings, **faults: Any) -> WebhookService:
    """The real webhook service (Firestore ledger, Pub/Sub relay) with the storm's secrets."""
    webhook = WebhookSettings.model_validate(
        {"STRIPE_WEBHOOK_SECRET": STRIPE_SECRET, "ADYEN_HMAC_KEY": ADYEN_KEY, **ADYEN_AUTH_ENV}
    )
    return build_webhook_service(cloud, webhook=webhook, **faults)


@dataclass
class StormStats:
    """What a delivery run did: every POST, and how each delivery ended."""

    events: int
    deliveries: int = 0
    posts: int = 0
    rounds: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    gave_up: int = 0
    seconds: float = 0.0
    swept: int = 0  # parked events the parking sweep applied after the deliveries
    parked_left: int = 0  # parked events nothing applied (must be none)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "deliveries": self.deliveries,
            "duplicates": self.deliveries - self.events,
            "posts": self.posts,
            "retried": self.posts - self.deliveries,
            "rounds": self.rounds,
            "statuses": dict(sorted(self.statuses.items())),
            "gave_up": self.gave_up,
            "parked_then_swept": self.swept,
            "parked_left": self.parked_left,
            "seconds": round(self.seconds, 2),
        }


def _post(service: WebhookService, delivery: Delivery) -> int:
    """Sign and post one delivery the way the provider does (fresh signature per attempt)."""
    if delivery.provider == "stripe":
        body = json.dumps(delivery.payload).encode()
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_signature(body, STRIPE_SECRET),
        }
        return service.handle("POST", "/stripe", headers, body).status
    body = json.dumps(adyen_request([delivery.payload], ADYEN_KEY)).encode()
    headers = {"Content-Type": "application/json", **adyen_auth()}
    return service.handle("POST", "/adyen", headers, body).status


T = TypeVar("T")
A = TypeVar("A")


@dataclass
class Rounds(Generic[A]):
    """What a run of delivery rounds did: attempts, their answers, what never got through."""

    attempts: int = 0
    rounds: int = 0
    answers: Counter[A] = field(default_factory=Counter)
    left: int = 0
    seconds: float = 0.0


def in_rounds(
    pending: list[T],
    attempt: Callable[[T], A],
    done: Callable[[A], bool],
    *,
    workers: int,
    shuffle: random.Random | None,
    max_rounds: int,
    name: str = "storm",
) -> Rounds[A]:
    """Attempt everything ``workers`` at a time; what is not ``done`` comes back next round.

    Like a provider's retry schedule or Pub/Sub's redelivery, a refused delivery goes to
    the back of the line instead of holding a worker; ``max_rounds`` bounds the attempts.
    """
    run: Rounds[A] = Rounds()
    started = time.perf_counter()
    with ThreadPoolExecutor(workers, thread_name_prefix=name) as pool:
        while pending and run.rounds < max_rounds:
            run.rounds += 1
            if shuffle is not None:
                shuffle.shuffle(pending)
            answers = list(pool.map(attempt, pending))
            run.attempts += len(answers)
            run.answers.update(answers)
            pending = [p for p, a in zip(pending, answers, strict=True) if not done(a)]
    run.left = len(pending)
    run.seconds = time.perf_counter() - started
    return run


def deliver(
    service: WebhookService,
    deliveries: list[Delivery],
    *,
    events: int,
    workers: int,
    max_rounds: int = 12,
    shuffle: random.Random | None = None,
) -> StormStats:
    """Post everything ``workers`` at a time; retry non-2xx answers in later rounds."""
    run = in_rounds(
        list(deliveries), lambda d: _post(service, d), lambda status: 200 <= status < 300,
        workers=workers, shuffle=shuffle, max_rounds=max_rounds,
    )  # fmt: skip
    return StormStats(
        events=events, deliveries=len(deliveries), posts=run.attempts, rounds=run.rounds,
        statuses=run.answers, gave_up=run.left, seconds=run.seconds,
    )  # fmt: skip


def deliver_storm(
    service: WebhookService, corpus: Corpus, *, copies: int = 3, seed: int = 3, workers: int = 16
) -> StormStats:
    """Every event ``copies`` times, all shuffled, ``workers`` at a time."""
    batch = [d for d in corpus.deliveries for _ in range(copies)]
    rng = random.Random(seed)
    return deliver(service, batch, events=len(corpus.deliveries), workers=workers, shuffle=rng)


def settle_parked(service: WebhookService, rounds: int = 5) -> int:
    """What the scheduled parking sweep does over the next hours, at once; how many it applied.

    A wake-up at creation applies most parked events; the sweep applies the rest (a
    wake-up lost to a concurrent creation, a reference indexed without a creation).
    """
    applied = 0
    for _ in range(rounds):
        report = service.sweep_parked(service.clock() + LONGEST_WAIT)
        applied += report.applied
        if report.due == 0 or report.applied == 0:
            break
    return applied


def deliver_in_order(service: WebhookService, corpus: Corpus, *, workers: int = 1) -> StormStats:
    """Each event once, in provider-time order per subscription; subscriptions in parallel.

    Equivalent to one global time-ordered sequence because subscriptions share no
    state the webhook writes: the ledger transaction touches the subscription's
    document, its outbox records, its customer (one account per subscription here)
    and provider references that only this subscription's events write and read
    (a refund or invoice finds its subscription through a reference its own
    checkout indexed). So only the order *within* a subscription can matter, and
    that order is kept; ``workers=1`` is the plain global order.
    """
    stats = StormStats(events=len(corpus.deliveries), deliveries=len(corpus.deliveries))
    started = time.perf_counter()

    def run(group: list[Delivery]) -> list[int]:
        return [_post(service, d) for d in group]

    groups = corpus.per_subscription() if workers > 1 else [corpus.in_order()]
    with ThreadPoolExecutor(workers, thread_name_prefix="in-order") as pool:
        for answers in pool.map(run, groups):
            stats.posts += len(answers)
            stats.statuses.update(answers)
            stats.gave_up += sum(1 for s in answers if not 200 <= s < 300)
    stats.rounds = 1
    stats.seconds = time.perf_counter() - started
    return stats


@dataclass(frozen=True)
class FinalState:
    subscriptions: dict[str, dict[str, Any]]
    outbox: frozenset[str]
    refs: dict[str, str]

    def diff(self, other: FinalState) -> list[str]:
        """Human-readable differences; empty when both runs converged to one state."""
        out: list[str] = []
        for sid in sorted(set(self.subscriptions) | set(other.subscriptions)):
            mine, theirs = self.subscriptions.get(sid), other.subscriptions.get(sid)
            if mine != theirs:
                keys = sorted(set(mine or {}) | set(theirs or {}))
                changed = {
                    k: ((mine or {}).get(k), (theirs or {}).get(k))
                    for k in keys
                    if (mine or {}).get(k) != (theirs or {}).get(k)
                }
                out.append(f"subscription {sid}: {changed}")
        out += [f"outbox only in one run: {k}" for k in sorted(self.outbox ^ other.outbox)]
        if self.refs != other.refs:
            differ = set(self.refs) ^ set(other.refs)
            differ |= {
                k for k in self.refs.keys() & other.refs.keys() if self.refs[k] != other.refs[k]
            }
            out += [f"provider ref differs: {k}" for k in sorted(differ)]
        return out


def final_state(db: firestore.Client) -> FinalState:
    subs: dict[str, dict[str, Any]] = {}
    for snap in db.collection(SUBSCRIPTIONS).stream():
        doc = snap.to_dict() or {}
        subs[snap.id] = {k: doc.get(k) for k in COMPARED_FIELDS}
    outbox = frozenset(ref.id for ref in db.collection(OUTBOX).list_documents())
    refs = {
        snap.id: str((snap.to_dict() or {}).get("subscription_id"))
        for snap in db.collection(PROVIDER_REFS).stream()
    }
    return FinalState(subs, outbox, refs)


def stopwatch() -> Iterator[float]:
    """Seconds since the first ``next()``."""
    start = time.perf_counter()
    while True:
        yield time.perf_counter() - start
