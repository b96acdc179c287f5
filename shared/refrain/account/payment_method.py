"""``POST /v1/me/payment-method/session``: a session in which the subscriber saves a new card.

Only for a merchant-managed subscription (we charge its renewals): Stripe gets a
SetupIntent (``usage=off_session``, the subscription's customer, our
``subscription_id`` in metadata) and the answer is its client secret for Stripe.js;
Adyen gets a zero-amount Checkout session (``/sessions`` with the subscription's
``shopperReference``, ``storePaymentMethod``, ``recurringProcessingModel:
Subscription``, the reference :func:`card_update_reference`) for Drop-in. Nothing
changes here: the saved card arrives through the webhook as every card does
(Stripe ``setup_intent.succeeded`` / ``payment_method.attached``, Adyen
``AUTHORISATION`` / ``RECURRING_CONTRACT``; refrain.providers).

A provider-managed subscription (Stripe Billing, Google Play, the App Store) is
refused with a problem that sends the subscriber to the store or portal.

Idempotency: the ``Idempotency-Key`` is recorded like an action's (same key with a
different body: 422), and the provider receives a key derived from the account and
the key (:func:`provider_key`), so the same key returns the same SetupIntent or
session from the provider itself. The client secret and session data are never
stored by Refrain: a replay asks the provider again and gets its stored answer (Stripe
keeps keys 24 hours, Adyen at least 7 days: a replay after that gets a new SetupIntent or
session, which is harmless, as nothing is saved until the subscriber completes one). Two
concurrent first uses of a key reach the provider with the same key: one gets the
object, the other the provider's conflict, answered 503 (retry).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from refrain.account import problems as p
from refrain.account.models import PaymentMethodSessionIn, PaymentMethodSessionOut
from refrain.account.problems import Problem
from refrain.account.service import AccountService, Answer, IdempotencyKeys, KeyReused
from refrain.domain.clock import Clock
from refrain.domain.subscription import BillingMode, State, Subscription

# The reference of an Adyen card-update session names the subscription first.
CARD_UPDATE = ":payment-method:"
_STORES = {
    "google_play": "Google Play (Play Store → Payments & subscriptions)",
    "apple": "the App Store (Settings → Apple ID → Subscriptions)",
    "stripe": "the Stripe customer portal",
}


@dataclass(frozen=True, slots=True)
class CardSetupRequest:
    subscription_id: str
    account_id: str
    payment_method_ref: str | None  # what renewals charge now: names the customer/shopper
    currency: str  # ISO 4217, the subscription's
    market: str  # ISO 3166 country
    idempotency_key: str  # for the provider (:func:`provider_key`)


@dataclass(frozen=True, slots=True)
class CardSetupSession:
    provider: Literal["stripe", "adyen"]
    reference: str  # seti_… or the Adyen session id
    client_secret: str | None = None  # Stripe
    session_data: str | None = None  # Adyen
    expires_at: datetime | None = None  # Adyen


class CardSetupUnavailable(Exception):
    """The provider did not answer usably (timeout, 5xx, auth): retry with the same key."""


class CardSetupRefused(Exception):
    """The provider refused the request itself (e.g. the customer no longer exists)."""


class CardSetup(Protocol):
    def start(self, request: CardSetupRequest) -> CardSetupSession: ...


def provider_key(account_id: str, key: str) -> str:
    """The provider's idempotency key: scoped to the account, 43 characters (Adyen: ≤ 64)."""
    return "pm-" + hashlib.sha256(f"{account_id}:{key}".encode()).hexdigest()[:40]


def card_update_reference(subscription_id: str, key: str) -> str:
    """Adyen ``reference`` of a card-update session (the webhook reads the subscription)."""
    return f"{subscription_id}{CARD_UPDATE}{key[3:15]}"


@dataclass
class PaymentMethodSessions:
    account: AccountService  # ownership: someone else's subscription is a 404
    keys: IdempotencyKeys
    providers: dict[str, CardSetup]  # "stripe", "adyen": those configured
    clock: Clock

    def start(
        self, account_id: str, body: PaymentMethodSessionIn, *, key: str, print_: str
    ) -> tuple[PaymentMethodSessionOut, bool]:
        """The session and whether it is a replay of the key's first answer."""
        sub = self._subscription(account_id, body.subscription_id)
        setup = self.providers.get(sub.provider)
        if setup is None:  # configuration, not the subscriber: named in the log by the caller
            raise NotConfigured(sub.provider)
        scope = f"{account_id}:pm:{key}"
        now = self.clock.now()
        try:
            recorded = self.keys.begin(scope, print_, now)
        except KeyReused as exc:
            raise Problem(p.IDEMPOTENCY_MISMATCH) from exc
        request = CardSetupRequest(
            sub.subscription_id, account_id, sub.payment_method_ref, sub.price.currency,
            sub.market, provider_key(account_id, key),
        )  # fmt: skip
        try:
            session = setup.start(request)
        except CardSetupUnavailable as exc:
            raise Problem(p.UNAVAILABLE, headers={"Retry-After": "1"}) from exc
        except CardSetupRefused as exc:
            raise Problem(p.CARD_SETUP_REFUSED, str(exc)[:200]) from exc
        if recorded is None:  # answered: recorded without the secret (the provider keeps it)
            self.keys.finish(scope, Answer(200, ""), now)
        return _out(session, sub.subscription_id), recorded is not None

    def _subscription(self, account_id: str, subscription_id: str | None) -> Subscription:
        if subscription_id is not None:
            sub = self.account.owned(account_id, subscription_id)
        else:
            sub = _default(self.account.store.subscriptions(account_id))
        if sub.billing_mode is not BillingMode.MERCHANT_MANAGED:
            where = _STORES.get(sub.provider, f"{sub.provider}'s own account page")
            raise Problem(p.MANAGED_BY_PROVIDER, f"This subscription's payment method is "
                          f"managed in {where}")  # fmt: skip
        if sub.state is State.EXPIRED:
            raise Problem(p.CONFLICT, "The subscription has ended")
        return sub


class NotConfigured(Exception):
    """No API key for the subscription's provider in this deployment."""

    def __init__(self, provider: str) -> None:
        names = {"stripe": "STRIPE_API_KEY", "adyen": "ADYEN_API_KEY and ADYEN_MERCHANT_ACCOUNT"}
        super().__init__(f"{names.get(provider, provider)} not set: no card sessions")
        self.provider = provider


def _out(session: CardSetupSession, subscription_id: str) -> PaymentMethodSessionOut:
    stripe = session.provider == "stripe"
    return PaymentMethodSessionOut(
        provider=session.provider, subscription_id=subscription_id,
        setup_intent_id=session.reference if stripe else None,
        client_secret=session.client_secret,
        session_id=None if stripe else session.reference,
        session_data=session.session_data, expires_at=session.expires_at,
    )  # fmt: skip


def _default(subs: list[Subscription]) -> Subscription:
    """Without a subscription id: the newest live merchant-managed one, else the newest."""
    live = [s for s in subs if s.state is not State.EXPIRED]
    if not live:
        raise Problem(p.NOT_FOUND, "No subscription")
    merchant = [s for s in live if s.billing_mode is BillingMode.MERCHANT_MANAGED]
    return max(merchant or live, key=lambda s: s.created_at)
