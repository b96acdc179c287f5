"""refrain.pricing: every refusal writes nothing; versions, files and the notice fan-out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from refrain.domain.clock import FixedClock, utc
from refrain.domain.events import EventType
from refrain.domain.inputs import GrandfatherSet
from refrain.domain.machine import apply
from refrain.domain.money import Money
from refrain.observability import get_logger
from refrain.outbox import OutboxPublisher
from refrain.pricing.files import read_rows
from refrain.pricing.schedule import PriceChangeRefused, PriceChangeRow, ScheduledPrice
from refrain.pricing.service import PriceChangeService
from tests.fakes.ledger import MemoryLedger
from tests.fakes.outbox import RecordingRelay
from tests.unit.care.test_care_service import active

NOW = utc(2025, 1, 10)
LATER = NOW + timedelta(days=45)


@dataclass
class MemoryPrices:
    rows: dict[str, ScheduledPrice] = field(default_factory=dict)
    writes: int = 0

    def versions(self, plan: str, market: str) -> list[ScheduledPrice]:
        found = [v for v in self.rows.values() if (v.plan, v.market) == (plan, market)]
        return sorted(found, key=lambda v: v.version)

    def create_all(self, changes: Sequence[ScheduledPrice]) -> None:
        if any(c.change_id in self.rows for c in changes):
            raise PriceChangeRefused(["taken"])
        self.writes += 1
        self.rows.update({c.change_id: c for c in changes})

    def get(self, change_id: str) -> ScheduledPrice | None:
        return self.rows.get(change_id)

    def all(self) -> list[ScheduledPrice]:
        return list(self.rows.values())


@dataclass
class Everyone:
    ledger: MemoryLedger

    def subscriber_pages(self, plan: str, market: str, page_size: int) -> Iterator[list[str]]:
        ids = [s.subscription_id for s in self.ledger.subs.values()
               if (s.plan, s.market) == (plan, market)]  # fmt: skip
        for start in range(0, len(ids), page_size):
            yield ids[start : start + page_size]


def service(subs: int = 0) -> tuple[PriceChangeService, MemoryPrices, MemoryLedger]:
    ledger = MemoryLedger({f"sub_{n}": active(f"sub_{n}") for n in range(subs)})
    clock, log = FixedClock(NOW), get_logger("t")
    publisher = OutboxPublisher(RecordingRelay(), ledger, clock, log)
    prices = MemoryPrices()
    svc = PriceChangeService(prices, ledger, Everyone(ledger), publisher, clock, log=log,
                             page_size=2)  # fmt: skip
    return svc, prices, ledger


def row(plan: str = "individual_monthly", market: str = "SE", amount: str = "149",
        effective: datetime = LATER) -> PriceChangeRow:  # fmt: skip
    return PriceChangeRow(plan=plan, market=market, amount=amount, effective_at=effective)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (row(plan="platinum_monthly"), "unknown plan 'platinum_monthly'"),
        (row(market="XX"), "unknown market 'XX'"),
        (row(plan="student_monthly", market="KW"), "not sold in KW"),
        (row(amount="0"), "must be positive"),
        (row(amount="-10"), "must be positive"),
        (row(amount="149.001"), "more than 2 decimals for SEK"),
        (row(market="JP", amount="1180.5"), "more than 0 decimals for JPY"),
        (row(amount="12,99"), "not a number"),
        (row(effective=NOW + timedelta(days=29)), "too soon: SE subscribers get 30 days' notice"),
        (row(amount="139.00"), "already costs"),
    ],
)
def test_each_refusal_is_clear_and_writes_nothing(bad: PriceChangeRow, message: str) -> None:
    svc, prices, ledger = service(subs=1)
    with pytest.raises(PriceChangeRefused, match=message):
        svc.schedule([row(market="NO", amount="139"), bad])  # a good row beside it: all or none
    assert prices.rows == {} and prices.writes == 0 and ledger.commands == []


def test_versions_count_up_per_plan_and_market_and_copy_the_market_rules() -> None:
    svc, _, _ = service()
    [v2] = svc.schedule([row()])
    assert (v2.change_id, v2.price, v2.notice_days) == ("individual_monthly:SE:v2",
                                                        Money(14900, "SEK"), 30)  # fmt: skip
    [v3, de] = svc.schedule([row(amount="159", effective=LATER + timedelta(days=30)),
                             row(market="de", amount="11.99")])  # fmt: skip
    assert v3.version == 3 and de.change_id == "individual_monthly:DE:v2"
    assert de.consent_required and not v3.consent_required
    with pytest.raises(PriceChangeRefused, match="already has a price change"):
        svc.schedule([row(amount="169")])


def test_notices_reach_each_subscriber_once_and_skip_the_grandfathered() -> None:
    svc, _, ledger = service(subs=5)
    ledger.put(apply(ledger.subs["sub_4"], GrandfatherSet(input_id="g", occurred_at=NOW),
                     NOW).subscription)  # fmt: skip
    [change] = svc.schedule([row()])
    first = svc.notify(change.change_id)
    assert (first.subscribers, first.notified, first.already) == (5, 4, 0)
    assert dict(first.refused) == {"grandfathered": 1}
    again = svc.notify(change.change_id)
    assert (again.notified, again.already) == (0, 5)
    told = [e for c in ledger.outbox.values() for e in c.events
            if e.type is EventType.PRICE_CHANGE_SCHEDULED]  # fmt: skip
    assert len(told) == 4
    with pytest.raises(PriceChangeRefused, match="no price change"):
        svc.notify("nope:SE:v9")


def test_csv_and_toml_files_give_the_same_rows(tmp_path: Path) -> None:
    csv = tmp_path / "changes.csv"
    csv.write_text("plan,market,amount,effective\nindividual_monthly,SE,149,2025-03-01\n"
                   "duo_monthly,DE,15.99,2025-03-01T06:00:00+01:00\n")  # fmt: skip
    toml = tmp_path / "changes.toml"
    toml.write_text('[[change]]\nplan = "individual_monthly"\nmarket = "SE"\namount = 149\n'
                    'effective = 2025-03-01\n\n[[change]]\nplan = "duo_monthly"\nmarket = "DE"\n'
                    'amount = "15.99"\neffective = "2025-03-01T05:00:00Z"\n')  # fmt: skip
    from_csv, from_toml = read_rows(csv), read_rows(toml)
    strip = [(r.plan, r.market, r.amount, r.effective_at) for r in from_csv]
    assert strip == [(r.plan, r.market, r.amount, r.effective_at) for r in from_toml]
    assert from_csv[1].effective_at == utc(2025, 3, 1, 5)


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("a.csv", "plan,market,amount\nx,SE,1\n", "header must name"),
        ("a.csv", "plan,market,amount,effective\nx,SE,,2025-03-01\n", "line 2: missing amount"),
        ("a.csv", "plan,market,amount,effective\nx,SE,1,soon\n", "not an ISO-8601"),
        (
            "a.toml",
            '[[change]]\nplan="x"\nmarket="SE"\namount=12.99\neffective=2025-03-01\n',
            "write the amount as text",
        ),
        ("a.json", "{}", "use a .csv or .toml"),
    ],
)
def test_unreadable_files_are_refused(tmp_path: Path, name: str, body: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(PriceChangeRefused, match=message):
        read_rows(path)
