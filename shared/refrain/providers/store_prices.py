"""App Store and Google Play price increases → the same notice / consent input.

The stores run the notice and the consent themselves and charge the new price at the
renewal they choose; we mirror it as a :class:`PriceChangeNoticed` (``notice_days`` 0,
``applies_from`` = the store's date), so a store subscriber's pending price change reads
like a merchant-managed one (``refrain subscriptions show``, the event for analytics).
Refrain mails store customers nothing (the store is merchant of record).

App Store Server Notifications V2, ``notificationType`` PRICE_INCREASE:

* subtype PENDING: the customer has not yet responded to an increase that needs
  consent → ``consent_required``, not consented;
* subtype ACCEPTED: the customer consented, or was told of an increase that needs no
  consent → consented.

Price and date from the signed renewal info: ``renewalPrice`` (milli-units) in
``currency``, from ``renewalDate``; the product from ``autoRenewProductId``. The change
id ``apple:{product}:{renewalPrice}:{currency}`` is the same in both, so an ACCEPTED
after a PENDING records the consent on the change already told.

Google Play, RTDN SUBSCRIPTION_PRICE_CHANGE_CONFIRMED (8) / _UPDATED (19): the purchase
(``purchases.subscriptionsv2.get``) says in ``lineItems[].autoRenewingPlan
.priceChangeDetails``: ``newPrice`` (Money: ``currencyCode``, ``units``, ``nanos``),
``priceChangeMode`` (PRICE_INCREASE needs consent; OPT_OUT_PRICE_INCREASE and
PRICE_DECREASE do not), ``priceChangeState`` (OUTSTANDING: waiting for the customer;
CONFIRMED: it will happen) and ``expectedNewPriceChargeTime``. APPLIED and CANCELED (and a
purchase without details) are mirrored as the ordinary state report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from refrain.domain.errors import DomainError, InvalidInput, InvalidMoney
from refrain.domain.inputs import PriceChangeNoticed
from refrain.domain.money import Money
from refrain.domain.provider_amounts import from_provider_amount
from refrain.ingest.model import MappingError

__all__ = ["apple_price_increase", "play_price_change"]

_PLAY_CONSENT_MODES = frozenset({"PRICE_INCREASE"})
_PLAY_STATES = {"OUTSTANDING": False, "CONFIRMED": True}  # state -> consented


def _notice(
    *, input_id: str, occurred_at: datetime, change_id: str, plan: str, price: Money,
    applies_from: datetime, consent_required: bool, consented: bool,
) -> PriceChangeNoticed:  # fmt: skip
    try:
        return PriceChangeNoticed(
            input_id=input_id, occurred_at=occurred_at, change_id=change_id, plan=plan,
            new_price=price, effective_at=applies_from, applies_from=applies_from,
            consent_required=consent_required, consented=consented,
        )  # fmt: skip
    except InvalidInput as exc:
        raise MappingError(f"price change {change_id}: {exc}") from exc


def apple_price_increase(
    *, uuid: str, subtype: Any, signed: datetime, renewal: Mapping[str, Any], plan: str
) -> PriceChangeNoticed | str:
    """The input for a PRICE_INCREASE notification, or why it is ignored."""
    if subtype not in ("PENDING", "ACCEPTED"):
        return f"PRICE_INCREASE with subtype {subtype!r}"
    amount, currency = renewal.get("renewalPrice"), renewal.get("currency")
    when = renewal.get("renewalDate")
    if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(currency, str):
        return "PRICE_INCREASE without renewalPrice and currency"
    if not isinstance(when, int) or isinstance(when, bool):
        return "PRICE_INCREASE without renewalDate"
    try:
        price = from_provider_amount(amount, currency, "apple")
    except DomainError as exc:
        raise MappingError(f"App Store renewalPrice {amount} {currency}: {exc}") from exc
    product = renewal.get("autoRenewProductId") or renewal.get("productId")
    return _notice(
        input_id=uuid, occurred_at=signed, change_id=f"apple:{product}:{amount}:{currency}",
        plan=plan, price=price, applies_from=datetime.fromtimestamp(when / 1000, tz=UTC),
        consent_required=subtype == "PENDING", consented=subtype == "ACCEPTED",
    )  # fmt: skip


def play_price_change(
    *, message_id: str, occurred_at: datetime, purchase: Mapping[str, Any], plan: str
) -> PriceChangeNoticed | None:  # fmt: skip
    """The input for a purchase with an outstanding or confirmed price change, else None."""
    from refrain.providers.google_play_mapping import rfc3339

    items = purchase.get("lineItems") or []
    line = items[0] if items and isinstance(items[0], dict) else {}
    details = (line.get("autoRenewingPlan") or {}).get("priceChangeDetails") or {}
    state = details.get("priceChangeState")
    if state not in _PLAY_STATES:
        return None
    price = _play_money(details.get("newPrice"))
    when = rfc3339(details.get("expectedNewPriceChargeTime"), "expectedNewPriceChargeTime")
    if when is None:
        raise MappingError(f"a {state} price change without expectedNewPriceChargeTime")
    mode = str(details.get("priceChangeMode"))
    return _notice(
        input_id=message_id, occurred_at=occurred_at,
        change_id=f"google_play:{line.get('productId')}:{price.amount}:{price.currency}",
        plan=plan, price=price, applies_from=when,
        consent_required=mode in _PLAY_CONSENT_MODES, consented=_PLAY_STATES[str(state)],
    )  # fmt: skip


def _play_money(value: Any) -> Money:
    """Google's Money (``units`` int64 as text, ``nanos``): exact, or refused."""
    if not isinstance(value, dict) or not isinstance(value.get("currencyCode"), str):
        raise MappingError("priceChangeDetails.newPrice is not a Money")
    try:
        major = Decimal(str(value.get("units") or 0)) + Decimal(int(value.get("nanos") or 0)) / (
            Decimal(10) ** 9
        )
        return Money.of(major, value["currencyCode"])
    except (InvalidOperation, InvalidMoney, ValueError, TypeError) as exc:
        raise MappingError(f"priceChangeDetails.newPrice {value}: {exc}") from exc
