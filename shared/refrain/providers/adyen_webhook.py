"""Adyen standard webhooks: HMAC verification per item, and items → inputs.

Every NotificationRequestItem is verified with `Adyen.util
.is_valid_hmac_notification` (the library itself only looks at the first
item when handed the whole request, so we hand it each item). Dedupe key per
item: (pspReference, eventCode, success), as Adyen may redeliver any item.

Our references: `merchantReference` is our charge id for renewals
("{subscription_id}:{billing anchor}:{attempt}") and, for the first payment,
"{subscription_id}:checkout:{plan}:{market}:{account_id}" (`checkout_reference`);
or the merchant's own convention (refrain.providers.price_plans).

The stored payment method renewals charge is ``"{shopperReference}:{token}"``
(a token is only valid with the shopper reference it was stored under): from a
successful AUTHORISATION's `tokenization.storedPaymentMethodId` (older accounts:
`recurring.recurringDetailReference`) and `tokenization.shopperReference` /
`recurring.shopperReference` / `shopperReference`; replaced by RECURRING_CONTRACT,
or by the zero-amount AUTHORISATION of a card-update session (reference
``{subscription_id}:payment-method:{key}``, refrain.account.payment_method),
whose pspReference is the token. What the HMAC signs: pspReference,
originalReference, merchantAccountCode, merchantReference, amount, eventCode and
success, never additionalData. So identity and money come only from signed fields:
the subscription, account, plan and market from merchantReference, the amount from
amount. additionalData is information (e-mail, locale), never identity: Refrain's own
checkout stores the card under the account's own shopper reference, and a token
stored under any other shopper is not taken (Adyen charges a token only with the
shopper it was stored under, so a rewritten token can name no other customer's card).
Basic authentication is required with an HMAC key besides (refrain.ingest.routes;
docs/SECURITY.md).
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import Adyen.util

from refrain.domain.catalog import Catalog
from refrain.domain.customer import CustomerDetails
from refrain.domain.declines import classify_adyen
from refrain.domain.errors import InvalidInput, TaxUnknown
from refrain.domain.inputs import (
    ChargebackOpened,
    CheckoutCompleted,
    DisputeClosed,
    PaymentFailed,
    PaymentMethodUpdated,
    PaymentSucceeded,
    RefundIssued,
)
from refrain.domain.money import Money
from refrain.domain.provider_amounts import from_provider_amount
from refrain.domain.subscription import BillingMode
from refrain.ingest.model import (
    MappingError,
    ProviderEvent,
    Subject,
    SubscriptionDraft,
    subscription_id_for,
)
from refrain.ingest.rejections import BadSignature, Malformed
from refrain.providers.price_plans import CheckoutReference, ReferenceConvention

PROVIDER = "adyen"


def notification_items(payload: Any) -> list[dict[str, Any]]:
    """The NotificationRequestItems of a request; Malformed if the shape is wrong."""
    if not isinstance(payload, dict) or not isinstance(payload.get("notificationItems"), list):
        raise Malformed("not an Adyen notification request")
    items = []
    for wrapper in payload["notificationItems"]:
        item = wrapper.get("NotificationRequestItem") if isinstance(wrapper, dict) else None
        if not isinstance(item, dict):
            raise Malformed("notificationItems entry without NotificationRequestItem")
        items.append(item)
    if not items:
        raise Malformed("no notification items")
    return items


def verify_adyen(items: list[dict[str, Any]], hmac_key_hex: str | None) -> None:
    """Every item must carry a valid hmacSignature under our key."""
    if not hmac_key_hex:
        raise BadSignature("no Adyen HMAC key configured")
    for item in items:
        if "notificationItems" in item:
            # Adyen.util would verify the nested request's first item instead of this one,
            # so a forged item carrying a genuine signed request passed (found by fuzzing).
            raise BadSignature("notification item nests another notification request")
        try:
            valid = Adyen.util.is_valid_hmac_notification(item, hmac_key_hex)
        except (KeyError, ValueError, TypeError, binascii.Error):
            valid = False
        if not valid:
            raise BadSignature(f"HMAC does not match for item {item.get('pspReference')!r}")


def _when(item: Mapping[str, Any]) -> datetime:
    raw = item.get("eventDate")
    try:
        parsed = datetime.fromisoformat(str(raw))
    except ValueError as exc:
        raise MappingError(f"bad eventDate {raw!r}") from exc
    if parsed.tzinfo is None:
        raise MappingError("eventDate has no offset")
    return parsed.astimezone(UTC)


def _money(item: Mapping[str, Any]) -> Money:
    amount = item.get("amount") or {}
    value, currency = amount.get("value"), amount.get("currency")
    if not isinstance(value, int) or isinstance(value, bool) or not isinstance(currency, str):
        raise MappingError("item has no amount")
    return from_provider_amount(value, currency, PROVIDER)


# Dispute webhooks (docs.adyen.com/risk-management/disputes-api/dispute-notifications): the
# stages that move access or money. Others (REQUEST_FOR_INFORMATION, INFORMATION_SUPPLIED,
# DISPUTE_DEFENSE_PERIOD_ENDED, ...) are recorded and ignored.
DISPUTE_OPENED = frozenset(
    {"NOTIFICATION_OF_CHARGEBACK", "CHARGEBACK", "DISPUTE_OPENED_WITH_CHARGEBACK"}
)
DISPUTE_WON = frozenset({"CHARGEBACK_REVERSED", "PREARBITRATION_WON"})
DISPUTE_LOST = frozenset({"SECOND_CHARGEBACK", "PREARBITRATION_LOST"})


def _iso(value: Any) -> datetime | None:
    """An ISO 8601 time with offset from additionalData (information only), or None."""
    try:
        parsed = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed is not None and parsed.tzinfo else None


def _our_charge(reference: str) -> tuple[str, datetime | None, int | None] | None:
    """(subscription id, billing anchor, attempt) of a renewal charge Refrain made, else None.

    Read from the right: a subscription id may itself hold ``:``.
    """
    parts = reference.rsplit(":", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    try:
        anchor = datetime.strptime(parts[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return parts[0], anchor, int(parts[2])


_CHECKOUT = ":checkout"


def checkout_reference(subscription_id: str, account_id: str, plan: str, market: str) -> str:
    """The merchantReference of Refrain's own checkout: what it creates, signed by the HMAC."""
    return f"{subscription_id}{_CHECKOUT}:{plan}:{market}:{account_id}"


def _own_checkout(reference: str) -> tuple[str, CheckoutReference] | None:
    """(subscription id, what it creates) of Refrain's own checkout reference, else None."""
    sub_id, found, named = reference.partition(f"{_CHECKOUT}:")
    plan, market, account_id = ([*named.split(":", 2), "", ""])[:3]
    if not (found and sub_id and plan and market and account_id):
        return None
    return sub_id, CheckoutReference(account_id, plan, market)


# A card-update session the account API started: ``{subscription_id}:payment-method:{key}``
# (refrain.account.payment_method.card_update_reference).
CARD_UPDATE = ":payment-method:"


def _card_update(reference: str) -> str | None:
    """The subscription of a card-update session's reference, else None."""
    sub_id, found, key = reference.rpartition(CARD_UPDATE)
    return sub_id if found and sub_id and key else None


def _subscription_of(reference: str, convention: ReferenceConvention) -> str:
    """The subscription a reference names: a checkout to the merchant's convention is its own
    subscription; Refrain's own checkout names it first (``{subscription_id}:checkout…``)."""
    if convention.read(reference) is not None:
        return subscription_id_for(PROVIDER, reference)
    card_update = _card_update(reference)
    if card_update is not None:
        return card_update
    own = _own_checkout(reference)
    if own is not None:
        return own[0]
    if reference.endswith(_CHECKOUT):  # before checkout references named what they create
        return reference.removesuffix(_CHECKOUT)
    return reference.split(":", maxsplit=1)[0]


def stored_method_ref(shopper_reference: Any, token: Any) -> str | None:
    """``"{shopperReference}:{token}"`` (the token alone when Adyen named no shopper)."""
    if not token:
        return None
    return f"{shopper_reference}:{token}" if shopper_reference else str(token)


def _shopper(extra: Mapping[str, Any]) -> Any:
    return (
        extra.get("tokenization.shopperReference")
        or extra.get("recurring.shopperReference")
        or extra.get("shopperReference")
    )


def normalise_adyen_item(
    item: Mapping[str, Any], catalog: Catalog, convention: ReferenceConvention | None = None
) -> ProviderEvent:
    try:
        return _normalise(item, catalog, convention or ReferenceConvention())
    except InvalidInput as exc:
        raise MappingError(f"{item.get('eventCode')}: {exc}") from exc


def _normalise(
    item: Mapping[str, Any], catalog: Catalog, convention: ReferenceConvention
) -> ProviderEvent:
    code = str(item.get("eventCode") or "")
    psp = str(item.get("pspReference") or "")
    success = str(item.get("success")).lower() == "true"
    reference = str(item.get("merchantReference") or "")
    if not code or not psp or not reference:
        raise MappingError("item lacks eventCode, pspReference or merchantReference")
    extra: dict[str, Any] = dict(item.get("additionalData") or {})
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "event_id": f"{psp}:{code}:{str(success).lower()}",
        "event_type": f"{code}{'' if success else '.failed'}",
        "occurred_at": _when(item),
    }
    charge = _our_charge(reference)
    sub_id, anchor, attempt = charge or (_subscription_of(reference, convention), None, None)
    subject = Subject(subscription_id=sub_id)
    at = {"input_id": base["event_id"], "occurred_at": base["occurred_at"]}
    original = str(item.get("originalReference") or psp)
    if code == "AUTHORISATION" and charge is None and _card_update(reference) is not None:
        return _card_verified(base, subject, at, extra, success)
    if code == "AUTHORISATION":
        own = _own_checkout(reference) if charge is None else None
        named = own[1] if own else convention.read(reference) if charge is None else None
        token = stored_method_ref(
            _shopper(extra),
            extra.get("tokenization.storedPaymentMethodId")
            or extra.get("recurring.recurringDetailReference"),
        )
        if own and _shopper(extra) != own[1].account_id:  # stored under another shopper
            token = None
        if success and named is not None:  # identity only from the signed reference
            plan, market, account_id = named.plan, named.market, named.account_id
            offer = catalog.offer(plan, market)
            amount = _money(item)
            try:  # Adyen computes no address-based tax: refused there, never guessed
                tax = offer.tax_on_top()
            except TaxUnknown as exc:
                raise MappingError(f"{exc}; Adyen does not compute it: refused") from exc
            expected = offer.price + tax if tax is not None else offer.price
            if amount != expected:
                raise MappingError(f"checkout charged {amount}, the catalog price is {expected}")
            return ProviderEvent(
                **base,
                subject=subject,
                input=CheckoutCompleted(
                    **at,
                    payment_method_ref=token,
                    paid=True,
                    charge_id=psp,
                    amount=amount,
                    tax=tax,
                ),
                draft=SubscriptionDraft(
                    account_id=str(account_id),
                    provider=PROVIDER,
                    billing_mode=BillingMode.MERCHANT_MANAGED,
                    plan=plan,
                    market=market,
                    payment_method_ref=token,
                ),
                customer=CustomerDetails(
                    email=extra.get("shopperEmail"),
                    locale=extra.get("metadata.locale"),
                    market=market,
                ),
                account_id=str(account_id),
                refs=(f"{PROVIDER}:{psp}",),
            )
        if success:
            return ProviderEvent(
                **base,
                subject=subject,
                refs=(f"{PROVIDER}:{psp}",),
                input=PaymentSucceeded(
                    **at, amount=_money(item), charge_id=reference, charge_period=anchor,
                    attempt=attempt,
                ),
            )  # fmt: skip
        decline = classify_adyen(item.get("reason"), extra.get("refusalReasonCode"))
        return ProviderEvent(
            **base,
            subject=subject,
            input=PaymentFailed(
                **at, amount=_money(item), decline=decline, charge_id=reference,
                charge_period=anchor, attempt=attempt,
            ),
        )  # fmt: skip
    if code == "REFUND" and success:
        return ProviderEvent(
            **base,
            subject=subject,
            # A refund we sent names our renewal's charge id as its reference (its invoice);
            # any other is known by the payment's pspReference (a checkout's invoice).
            input=RefundIssued(
                **at,
                charge_id=reference if charge else original,
                amount=_money(item),
                refund_id=psp,
                payment_ref=original,
            ),
        )
    if code in DISPUTE_OPENED | DISPUTE_WON | DISPUTE_LOST:
        # All events of one dispute share its pspReference; originalReference is the payment.
        # Its stage comes from the signed eventCode, never from the unsigned disputeStatus.
        dispute: dict[str, Any] = {
            **at, "charge_id": reference if charge else original, "amount": _money(item),
            "dispute_id": psp, "payment_ref": original,
        }  # fmt: skip
        if code in DISPUTE_OPENED:
            due = _iso(extra.get("defensePeriodEndsAt"))
            opened = ChargebackOpened(
                reason_code=extra.get("chargebackReasonCode"), evidence_due_at=due, **dispute
            )
            return ProviderEvent(**base, subject=subject, input=opened)
        won = DisputeClosed(won=code in DISPUTE_WON, **dispute)
        return ProviderEvent(**base, subject=subject, input=won)
    if code == "RECURRING_CONTRACT" and success:
        detail = extra.get("recurring.recurringDetailReference")
        method = stored_method_ref(_shopper(extra), psp)
        if method is None or (detail and detail != psp):
            return ProviderEvent(**base, subject=subject, ignored="token differs from pspReference")
        return ProviderEvent(
            **base, subject=subject, input=PaymentMethodUpdated(**at, payment_method_ref=method)
        )
    notes = {
        "CAPTURE": "capture confirms an authorisation already applied",
        "CANCELLATION": "authorisation cancelled before capture; no money moved",
        "REFUND": f"refund failed: {item.get('reason')}",
    }
    return ProviderEvent(
        **base, subject=subject, ignored=notes.get(code, f"event code {code} is not used")
    )


def _card_verified(
    base: dict[str, Any],
    subject: Subject,
    at: dict[str, Any],
    extra: Mapping[str, Any],
    success: bool,
) -> ProviderEvent:
    """The zero-amount authorisation of a card-update session: the new token, no money.

    Like RECURRING_CONTRACT, the token comes from additionalData: Adyen charges it only
    with the shopper reference it was stored under (the session's own).
    """
    token = stored_method_ref(
        _shopper(extra),
        extra.get("tokenization.storedPaymentMethodId")
        or extra.get("recurring.recurringDetailReference"),
    )
    if not success:
        return ProviderEvent(**base, subject=subject, ignored="card verification refused")
    if token is None:
        return ProviderEvent(**base, subject=subject, ignored="card verified but not stored")
    return ProviderEvent(
        **base, subject=subject, input=PaymentMethodUpdated(**at, payment_method_ref=token)
    )  # fmt: skip
