"""What the account page shows, worded and formatted on the server in the page's language.

``GET /v1/me/account-view?lang=`` answers the page (refrain.account.page) with every
sentence, amount and date already in the reader's language: the receipts' catalogue
(refrain.invoicing.messages) and the receipts' Babel formatting
(refrain.invoicing.i18n.Localizer), so an amount on the page reads exactly as it does on
the receipt e-mailed for it. The browser formats nothing; its JavaScript only places text.

Reads: the subscriptions query and the first page of invoices (the same reads as
``/v1/me/subscriptions`` and ``/v1/me/invoices``); with ``subscription`` and ``plan`` the
change-plan preview too, which writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from refrain.account import problems as p
from refrain.account.documents import AccountDocuments
from refrain.account.models import ChangePlanIn, MoneyOut, PreviewOut
from refrain.account.problems import Problem
from refrain.account.service import AccountService
from refrain.domain.catalog import Catalog
from refrain.domain.money import Money
from refrain.domain.subscription import State, Subscription
from refrain.invoicing.i18n import Localizer, localizer_for

VIEW_INVOICES = 12  # the newest ones; the API pages through the rest


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class PlanOption(_Out):
    plan: str
    label: str = Field(description="The plan as the receipts name it")


class SubscriptionView(_Out):
    id: str
    plan: str
    plan_label: str
    state: str
    status_label: str
    price_label: str = Field(description="The price per period, in the local format")
    next_charge_label: str | None = Field(None, description="Date and amount of the next charge")
    ends_label: str | None = Field(None, description="'Ends on …' once cancelled at period end")
    can_cancel: bool
    can_undo_cancel: bool
    plan_options: list[PlanOption] = Field(description="Plans it may change to")


class InvoiceView(_Out):
    number: str
    title: str
    date: str
    amount: str
    pdf: str = Field(description="Path of the PDF under /v1 (GET with the same credentials)")


class PreviewView(_Out):
    subscription_id: str
    plan: str
    allowed: bool
    text: str = Field(description="What the change costs and from when, in one sentence")


class AccountViewOut(_Out):
    locale: str = Field(description="What amounts and dates are formatted in")
    language: str = Field(description="The catalogue the sentences come from")
    subscriptions: list[SubscriptionView]
    invoices: list[InvoiceView] = Field(description="The newest, newest first")
    preview: PreviewView | None = None


_LIVE = frozenset({State.TRIALING, State.ACTIVE, State.PAST_DUE})


@dataclass
class AccountView:
    service: AccountService
    documents: AccountDocuments
    catalog: Catalog
    # The page's language when it names none it knows: the one the receipts fall back to.
    default_locale: Callable[[], str] = lambda: "en"

    def build(
        self, account_id: str, lang: str | None, subscription: str | None, plan: str | None
    ) -> AccountViewOut:
        loc = localizer_for((lang or "")[:35] or None, self.default_locale())
        subs = sorted(self.service.store.subscriptions(account_id), key=lambda s: s.created_at)
        page = self.documents.invoices(account_id, None, str(VIEW_INVOICES))
        invoices = [
            InvoiceView(
                number=inv.number,
                title=loc.t("title_credit_note" if inv.kind == "credit_note" else "title_receipt"),
                date=loc.short_date(inv.issued_at),
                amount=loc.money(_money(inv.gross)),
                pdf=inv.pdf.removeprefix("/v1/"),
            )
            for inv in page.invoices
        ]
        preview = None
        if subscription is not None and plan is not None:
            preview = self._preview(account_id, subscription, plan, loc)
        return AccountViewOut(
            locale=loc.format_locale, language=loc.language,
            subscriptions=[self._subscription(s, loc) for s in subs],
            invoices=invoices, preview=preview,
        )  # fmt: skip

    def _subscription(self, sub: Subscription, loc: Localizer) -> SubscriptionView:
        live = sub.state in _LIVE
        ends = None
        if sub.cancel_at_period_end and sub.current_period_end is not None:
            ends = loc.t("page_ends_on", date=loc.date(sub.current_period_end))
        next_charge = None
        if live and not sub.cancel_at_period_end and sub.next_charge_at is not None:
            next_charge = f"{loc.date(sub.next_charge_at)} · {loc.money(sub.price)}"
        return SubscriptionView(
            id=sub.subscription_id, plan=sub.plan, plan_label=self._plan_label(sub.plan, loc),
            state=sub.state.value, status_label=loc.t(f"page_state_{sub.state.value}"),
            price_label=loc.money(sub.price), next_charge_label=next_charge, ends_label=ends,
            can_cancel=live and not sub.cancel_at_period_end,
            can_undo_cancel=sub.cancel_at_period_end and sub.state is not State.EXPIRED,
            plan_options=self._options(sub, loc) if live and not sub.cancel_at_period_end else [],
        )  # fmt: skip

    def _options(self, sub: Subscription, loc: Localizer) -> list[PlanOption]:
        market = self.catalog.markets.get(sub.market)
        if market is None or sub.billing_mode.value != "merchant_managed":
            return []  # the app stores and Stripe Billing change plans on their side
        offered = sorted(
            (plan for pid, plan in self.catalog.plans.items() if pid in market.prices),
            key=lambda plan: (plan.interval.months, plan.rank),
        )
        return [
            PlanOption(plan=plan.id, label=self._plan_label(plan.id, loc))
            for plan in offered
            if plan.id != sub.plan
        ]

    def _plan_label(self, plan_id: str, loc: Localizer) -> str:
        plan = self.catalog.plans.get(plan_id)
        if plan is None:
            return plan_id
        interval = loc.t(f"interval_{plan.interval.value}")
        return loc.t("plan_line", tier=loc.t(f"tier_{plan.tier}"), interval=interval)

    def _preview(self, account_id: str, sid: str, plan: str, loc: Localizer) -> PreviewView:
        try:
            body = ChangePlanIn(plan=plan, preview=True)
        except ValueError as exc:
            raise Problem(p.BAD_REQUEST, "plan: not a plan id") from exc
        shown = PreviewOut.model_validate_json(self.service.preview(account_id, sid, body).body)
        if not shown.allowed or shown.next_renewal_at is None:
            text = loc.t("page_preview_refused")
        else:
            renewal = loc.money(_money(shown.next_renewal_amount))
            date = loc.date(shown.next_renewal_at)
            if shown.charge is not None and shown.charge.amount_minor > 0:
                amount = loc.money(_money(shown.charge))
                text = loc.t("page_preview_upgrade", amount=amount, date=date, renewal=renewal)
            else:
                text = loc.t("page_preview_downgrade", date=date, renewal=renewal)
        return PreviewView(subscription_id=sid, plan=plan, allowed=shown.allowed, text=text)


def _money(value: MoneyOut) -> Money:
    return Money(value.amount_minor, value.currency)
