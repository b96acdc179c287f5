"""The account API's JSON, as pydantic models: requests are validated with them and the
OpenAPI document (refrain.account.openapi) is generated from them.

Responses carry what a subscriber may see of a subscription: plan, state, price, dates.
Nothing internal (payment method references, watermarks, charge keys) is in them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from refrain.care.preview import PlanChangePreview
from refrain.domain.entitlement import Entitlement, Reason
from refrain.domain.money import Money
from refrain.domain.subscription import Subscription


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MoneyOut(_Out):
    amount_minor: int = Field(description="Integer minor units (cents, öre, yen)")
    currency: str = Field(description="ISO 4217 code", min_length=3, max_length=3)

    @classmethod
    def of(cls, money: Money | None) -> MoneyOut | None:
        return None if money is None else cls(amount_minor=money.amount, currency=money.currency)


class EntitlementOut(_Out):
    has_access: bool
    reason: Reason = Field(description="Why: active, trial, grace, on_hold, paused, ...")
    plan: str | None = None
    until: datetime | None = Field(
        None, description="Period end, end of grace, hold end or resume date, as `reason` says"
    )
    subscription_id: str | None = None
    checked_at: datetime

    @classmethod
    def of(cls, entitlement: Entitlement, now: datetime) -> EntitlementOut:
        return cls(
            has_access=entitlement.has_access,
            reason=entitlement.reason,
            plan=entitlement.plan,
            until=entitlement.until,
            subscription_id=entitlement.subscription_id,
            checked_at=now,
        )


class SubscriptionOut(_Out):
    id: str
    plan: str
    state: str
    market: str
    provider: str
    billing_mode: str
    price: MoneyOut
    interval_months: int
    cancel_at_period_end: bool
    current_period_end: datetime | None = None
    next_charge_at: datetime | None = None
    grace_until: datetime | None = None
    resume_at: datetime | None = None
    scheduled_plan: str | None = Field(None, description="A downgrade waiting for period end")
    upgrade_pending_payment: bool = False

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionOut:
        return cls(
            id=sub.subscription_id,
            plan=sub.plan,
            state=sub.state.value,
            market=sub.market,
            provider=sub.provider,
            billing_mode=sub.billing_mode.value,
            price=MoneyOut(amount_minor=sub.price.amount, currency=sub.price.currency),
            interval_months=sub.interval_months,
            cancel_at_period_end=sub.cancel_at_period_end,
            current_period_end=sub.current_period_end,
            next_charge_at=sub.next_charge_at,
            grace_until=sub.grace_until,
            resume_at=sub.resume_at,
            scheduled_plan=sub.pending_plan.plan if sub.pending_plan else None,
            upgrade_pending_payment=sub.upgrade is not None,
        )


class SubscriptionList(_Out):
    subscriptions: list[SubscriptionOut]


class CancelIn(_In):
    reason: str | None = Field(None, max_length=200)


class NoBody(_In):
    """An empty JSON object (or no body at all)."""


class ChangePlanIn(_In):
    plan: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    preview: bool = Field(False, description="true: the amounts and dates, nothing changes")


class PauseIn(_In):
    resume_at: datetime | None = Field(None, description="When to resume by itself")


class ActionOut(_Out):
    status: Literal["applied", "payment_pending"] = Field(
        description="payment_pending: an upgrade applies once its proration charge is paid"
    )
    subscription: SubscriptionOut


class PreviewOut(_Out):
    subscription_id: str
    from_plan: str
    to_plan: str
    allowed: bool
    reason: str | None = None
    direction: Literal["upgrade", "downgrade"] | None = None
    effective_at: datetime | None = None
    charge: MoneyOut | None = None
    net: MoneyOut | None = None
    tax: MoneyOut | None = None
    tax_label: str
    period_start: datetime | None = None
    period_end: datetime | None = None
    next_renewal_at: datetime | None = None
    next_renewal_amount: MoneyOut

    @classmethod
    def of(cls, p: PlanChangePreview) -> PreviewOut:
        renewal = MoneyOut.of(p.next_renewal_amount)
        assert renewal is not None
        return cls(
            subscription_id=p.subscription_id, from_plan=p.from_plan, to_plan=p.to_plan,
            allowed=p.allowed, reason=p.reason,
            direction=p.direction if p.direction in ("upgrade", "downgrade") else None,
            effective_at=p.effective_at, charge=MoneyOut.of(p.charge), net=MoneyOut.of(p.net),
            tax=MoneyOut.of(p.tax), tax_label=p.tax_label, period_start=p.period_start,
            period_end=p.period_end, next_renewal_at=p.next_renewal_at,
            next_renewal_amount=renewal,
        )  # fmt: skip


class PaymentMethodSessionIn(_In):
    subscription_id: str | None = Field(
        None,
        max_length=200,
        description="Which subscription; none: the newest live merchant-managed one",
    )


class PaymentMethodSessionOut(_Out):
    """Hand to the provider's client: Stripe.js ``confirmSetup`` with ``client_secret``, or
    Adyen Drop-in with ``session_id`` and ``session_data``. The new card arrives through the
    provider's webhook; the subscription's next renewal charges it."""

    provider: Literal["stripe", "adyen"]
    subscription_id: str
    setup_intent_id: str | None = Field(None, description="Stripe: the SetupIntent")
    client_secret: str | None = Field(None, description="Stripe: the SetupIntent's secret")
    session_id: str | None = Field(None, description="Adyen: the Checkout session")
    session_data: str | None = Field(None, description="Adyen: the session's data")
    expires_at: datetime | None = Field(None, description="Adyen: when the session expires")


class ProblemOut(_Out):
    """RFC 9457 problem details; ``type`` is one of the stable URIs in the description."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, str]] | None = None


# -- documents: invoices, credit notes, the data export ---------------------------------


class InvoiceOut(_Out):
    number: str
    kind: Literal["invoice", "credit_note"]
    issued_at: datetime
    subscription_id: str
    currency: str = Field(min_length=3, max_length=3)
    net: MoneyOut
    tax: MoneyOut
    gross: MoneyOut = Field(description="Negative on a credit note")
    original_number: str | None = Field(None, description="The invoice a credit note corrects")
    pdf: str = Field(description="Path of the PDF (GET with the same credentials)")


class InvoicePage(_Out):
    invoices: list[InvoiceOut] = Field(description="Newest first")
    next_page_token: str | None = Field(None, description="Pass as page_token for the next page")


class LedgerEntryOut(_Out):
    """One input the ledger applied, refused or ignored for a subscription."""

    type: str | None
    status: str | None
    at: datetime | None
    events: list[str] = Field(description="The domain events it produced, by type")


class SubscriptionRecordOut(_Out):
    subscription_id: str
    state: dict[str, Any] = Field(description="The subscription as stored")
    history: list[LedgerEntryOut] = Field(description="Oldest first")


class EmailOut(_Out):
    """An e-mail sent (or being sent) to the account's address; the body is not kept."""

    kind: str
    status: str
    document: str | None = Field(None, description="The invoice or credit note it carried")
    sent_at: datetime | None = None
    message_id: str | None = None


class DataExportOut(_Out):
    """GDPR art. 15/20: what Refrain holds about the account, machine-readable."""

    account_id: str
    exported_at: datetime
    customer: dict[str, Any] | None = Field(description="The profile: e-mail, name, locale")
    subscriptions: list[SubscriptionRecordOut]
    invoices: list[InvoiceOut]
    emails: list[EmailOut]


class ErasureOut(_Out):
    """GDPR art. 17: what this request erased; a second request finds nothing."""

    status: Literal["erased", "nothing_to_erase"]
    erased_at: datetime = Field(description="When the account's data was first erased")
    receipt: str = Field(description="SHA-256 of the account id under a fixed prefix")
    counts: dict[str, int] = Field(description="What this request found and erased, by kind")
    kept: str = Field(
        description="What is kept and why: invoices and credit notes, for their legal period"
    )
