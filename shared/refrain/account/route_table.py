"""The account API's surface as data: the request and response shapes and the route table.

:data:`ROUTES` is what the handler (refrain.account.routes) dispatches on and what the
OpenAPI document (refrain.account.openapi) is generated from, so the two never differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel

from refrain.account.models import (
    ActionOut,
    CancelIn,
    ChangePlanIn,
    DataExportOut,
    EntitlementOut,
    ErasureOut,
    InvoicePage,
    NoBody,
    PauseIn,
    PaymentMethodSessionIn,
    PaymentMethodSessionOut,
    PreviewOut,
    SubscriptionList,
)
from refrain.account.view import AccountViewOut

JSON = "application/json"
PDF = "application/pdf"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case (see ``make``)
    body: bytes | None  # None: over the limit, not read
    remote_addr: str = ""
    query: Mapping[str, str] = field(default_factory=dict)  # the first value of each name

    @classmethod
    def make(
        cls, method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes | None,
        remote_addr: str = "", *, query: Iterable[tuple[str, str]] = (),
    ) -> Request:  # fmt: skip
        lowered = {name.lower(): value for name, value in headers}
        args: dict[str, str] = {}
        for name, value in query:
            args.setdefault(name, value)
        return cls(method.upper(), path, lowered, body, remote_addr, args)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: str = ""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None  # a binary answer (a PDF), instead of ``body``


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    method: str
    template: str  # OpenAPI path template
    summary: str
    body: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    needs_key: bool = False
    media: str = JSON  # what the 200 answer is
    query: tuple[str, ...] = ()  # query parameters it reads

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = re.split(r"\{(\w+)\}", self.template)  # literal, name, literal, ...
        regex = "".join(
            f"(?P<{part}>[^/]{{1,200}}?)" if i % 2 else re.escape(part)
            for i, part in enumerate(parts)
        )
        return re.compile("^" + regex + "$")


_SUB = "/v1/me/subscriptions/{subscription_id}"
ROUTES = (
    Route("entitlement", "GET", "/v1/me/entitlement",
          "Has the account access now, to which plan, until when and why (one read)",
          answer=EntitlementOut),
    Route("subscriptions", "GET", "/v1/me/subscriptions", "The account's subscriptions",
          answer=SubscriptionList),
    Route("invoices", "GET", "/v1/me/invoices",
          "The account's invoices and credit notes, newest first, in pages",
          answer=InvoicePage, query=("page_token", "page_size")),
    Route("invoice-pdf", "GET", "/v1/me/invoices/{number}.pdf",
          "An invoice or credit note as PDF, rendered from the stored document",
          media=PDF),
    Route("data-export", "GET", "/v1/me/data-export",
          "Everything Refrain holds about the account, as JSON (GDPR art. 15 and 20)",
          answer=DataExportOut),
    Route("account-view", "GET", "/v1/me/account-view",
          "What the account page shows, worded and formatted in `lang` (with `subscription` "
          "and `plan`: that change's preview too)",
          answer=AccountViewOut, query=("lang", "subscription", "plan")),
    Route("erasure", "POST", "/v1/me/erasure",
          "Erase the account's personal data (GDPR art. 17); invoices are kept as the law "
          "requires; refused (409) while a subscription still renews",
          NoBody, ErasureOut, needs_key=True),
    Route("cancel", "POST", f"{_SUB}/cancel", "Cancel at the end of the period",
          CancelIn, ActionOut, needs_key=True),
    Route("revert-cancel", "POST", f"{_SUB}/revert-cancel", "Undo a scheduled cancellation",
          NoBody, ActionOut, needs_key=True),
    Route("change-plan", "POST", f"{_SUB}/change-plan",
          "Change plan (an upgrade is charged first); preview: true shows the amounts only",
          ChangePlanIn, ActionOut, needs_key=True),
    Route("pause", "POST", f"{_SUB}/pause", "Pause (optionally until a date)",
          PauseIn, ActionOut, needs_key=True),
    Route("resume", "POST", f"{_SUB}/resume", "Resume a paused subscription",
          NoBody, ActionOut, needs_key=True),
    Route("payment-method-session", "POST", "/v1/me/payment-method/session",
          "Start saving a new card for a merchant-managed subscription (Stripe SetupIntent "
          "client secret or Adyen session); the card arrives through the provider's webhook",
          PaymentMethodSessionIn, PaymentMethodSessionOut, needs_key=True),
)  # fmt: skip
PREVIEW_ANSWER = PreviewOut  # change-plan's answer with preview: true
