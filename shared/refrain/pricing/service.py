"""Schedule price versions, then tell every affected subscriber through the ledger.

``schedule`` validates and writes the versions (refrain.pricing.schedule), then runs
``notify`` for each. ``notify`` pages through the merchant-managed subscriptions of the
version's plan and market that can still renew, and applies one ``PriceChangeNoticed``
to each through the ledger: the same transaction, dedupe record and outbox as a provider
event, so each subscriber's ``subscription.price_change_scheduled`` (and its notice
e-mail, refrain.invoicing.receipts) happens once, however often ``notify`` runs. The
state machine decides the rest: which renewal first charges the new price, and refuses
grandfathered subscribers (recorded with the reason). Running ``notify`` again later
reaches subscribers who signed up since; each gets the notice days from the day they are
told (refrain.domain.price_changes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from refrain.domain.catalog import Catalog, load_catalog
from refrain.domain.clock import Clock
from refrain.domain.inputs import PriceChangeNoticed
from refrain.ledger import Ledger, LedgerCommand, LedgerStatus
from refrain.observability import Logger, get_logger
from refrain.outbox import OutboxPublisher
from refrain.pricing.schedule import (
    PriceChangeRefused,
    PriceChangeRow,
    PriceChangeStore,
    ScheduledPrice,
    validate_rows,
)

SOURCE = "pricing"
PAGE_SIZE = 300


class Subscribers(Protocol):
    def subscriber_pages(self, plan: str, market: str, page_size: int) -> Iterator[list[str]]:
        """Ids of the merchant-managed subscriptions of (plan, market) that can renew."""
        ...


@dataclass
class NoticeReport:
    change_id: str
    subscribers: int = 0
    notified: int = 0  # told now
    already: int = 0  # told by an earlier run
    refused: Counter[str] = field(default_factory=Counter)  # reason -> count (grandfathered, ...)

    def to_dict(self) -> dict[str, object]:
        return {
            "change_id": self.change_id, "subscribers": self.subscribers,
            "notified": self.notified, "already_notified": self.already,
            "refused": dict(self.refused),
        }  # fmt: skip


@dataclass
class PriceChangeService:
    store: PriceChangeStore
    ledger: Ledger
    subscribers: Subscribers
    publisher: OutboxPublisher
    clock: Clock
    catalog: Catalog = field(default_factory=load_catalog)
    log: Logger = field(default_factory=lambda: get_logger("pricing"))
    page_size: int = PAGE_SIZE

    def validate(self, rows: Sequence[PriceChangeRow]) -> list[ScheduledPrice]:
        """What ``schedule`` would write; raises PriceChangeRefused, writes nothing."""
        return validate_rows(rows, self.catalog, self.clock.now(), self.store.versions)

    def schedule(self, rows: Sequence[PriceChangeRow]) -> list[ScheduledPrice]:
        changes = self.validate(rows)
        self.store.create_all(changes)
        for change in changes:
            self.log.info(
                "price change scheduled", change_id=change.change_id,
                effective_at=change.effective_at.isoformat(), amount=change.price.amount,
                currency=change.price.currency,
            )  # fmt: skip
        return changes

    def notify(self, change_id: str) -> NoticeReport:
        change = self.store.get(change_id)
        if change is None:
            raise PriceChangeRefused([f"no price change {change_id!r}"])
        report = NoticeReport(change_id)
        input_id = f"price:{change.change_id}"
        for page in self.subscribers.subscriber_pages(change.plan, change.market, self.page_size):
            for sid in page:
                report.subscribers += 1
                now = self.clock.now()
                notice = PriceChangeNoticed(
                    input_id=input_id, occurred_at=now, change_id=change.change_id,
                    plan=change.plan, new_price=change.price, effective_at=change.effective_at,
                    notice_days=change.notice_days, consent_required=change.consent_required,
                )  # fmt: skip
                result = self.ledger.apply(
                    LedgerCommand(
                        dedupe_key=f"{input_id}:{sid}", subscription_id=sid, input=notice,
                        now=now, source=SOURCE,
                    )
                )  # fmt: skip
                self.publisher.announce(result.outbox_id, result.events, log=self.log)
                if result.status is LedgerStatus.APPLIED:
                    report.notified += 1
                elif result.status is LedgerStatus.DUPLICATE:
                    report.already += 1
                else:
                    report.refused[_reason(result.reason)] += 1
        self.log.info("price change notices", **report.to_dict())
        return report


def _reason(reason: str | None) -> str:
    """A count key without ids or amounts (no personal data, few distinct keys)."""
    text = reason or "refused"
    return text.split(":")[0].split(";")[0].strip()
