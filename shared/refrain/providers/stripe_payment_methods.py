"""The reusable Stripe payment method a renewal charges, captured from what Stripe sends.

Stripe never puts the saved card on the Checkout Session itself. It is:

* payment mode with ``payment_intent_data.setup_future_usage=off_session``: the
  PaymentIntent's ``payment_method`` (``payment_intent.succeeded``);
* setup mode: the SetupIntent's ``payment_method`` (``setup_intent.succeeded``,
  ``usage=off_session``); a SetupIntent the account API created for a card update
  (refrain.account.payment_method) names our ``subscription_id`` in its metadata, which
  finds the subscription (its ``seti_…`` was never indexed by a checkout);
* otherwise the customer's ``invoice_settings.default_payment_method``
  (``customer.updated`` when it changes), or a card the customer saves later
  (``payment_method.attached``).

Linking: ``checkout.session.completed`` indexes the session's ``payment_intent``,
``setup_intent`` and ``customer`` ids (``stripe:pi_…``, ``stripe:seti_…``,
``stripe:cus_…``); each event here names one of those ids, so the webhook finds
the subscription whichever of the two arrives first (an event that overtakes its
checkout is not applied until the checkout exists).

The rule: a checkout stores ``cus_…`` (the customer, no method yet); each event
here is a :class:`PaymentMethodUpdated` to ``cus_…:pm_…``, ordered by the event's
``created`` like every customer input, so the latest card wins and a late
delivery of an older one is stale. A subscription that never receives one is
charged the customer's invoice default, read from Stripe at charge time
(refrain.adapters.gateway_stripe). Every field read here is in the signed event
body; metadata is read only for our own SetupIntents' subscription id (set with our
secret key, like a renewal PaymentIntent's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from refrain.domain.catalog import Catalog
from refrain.domain.inputs import PaymentMethodUpdated
from refrain.ingest.model import ProviderEvent, Subject
from refrain.providers.stripe_fields import metadata

PROVIDER = "stripe"
# Only a method saved for off-session use may be charged while the customer is away
# (`on_session` is saved for checkouts the customer attends: not a renewal).
_OFF_SESSION = "off_session"

Capture = Callable[[dict[str, Any], dict[str, Any], Catalog, Mapping[str, Any]], ProviderEvent]


def object_id(value: Any) -> str | None:
    """An id whether Stripe sent it as a string or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def payment_method_ref(customer: str | None, method: str | None) -> str | None:
    """What a subscription stores and the renewal gateway reads: ``cus_…:pm_…``, or one part."""
    if customer and method:
        return f"{customer}:{method}"
    return method or customer


def _updated(base: dict[str, Any], ref: str, by: str, input_id: str) -> ProviderEvent:
    return ProviderEvent(
        **base,
        subject=Subject(ref=f"{PROVIDER}:{by}"),
        input=PaymentMethodUpdated(
            input_id=input_id, occurred_at=base["occurred_at"], payment_method_ref=ref
        ),
    )


def saved_by_payment_intent(base: dict[str, Any], obj: Mapping[str, Any]) -> ProviderEvent | None:
    """The card a checkout PaymentIntent saved for off-session use, if it saved one.

    A second provider event beside the payment's own (``PaymentSucceeded``): its id
    and input id carry a ``:payment_method`` suffix so each is applied once.
    """
    method, customer = object_id(obj.get("payment_method")), object_id(obj.get("customer"))
    pi_id = object_id(obj.get("id"))
    saved = obj.get("setup_future_usage") == _OFF_SESSION and obj.get("status") == "succeeded"
    if not (saved and method and customer and pi_id):
        return None
    event_id = f"{base['event_id']}:payment_method"
    return _updated({**base, "event_id": event_id}, f"{customer}:{method}", pi_id, event_id)


def _setup_intent(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    method, seti = object_id(obj.get("payment_method")), object_id(obj.get("id"))
    if obj.get("usage", _OFF_SESSION) != _OFF_SESSION or not (method and seti):
        return ProviderEvent(**base, ignored="setup intent did not save an off-session method")
    ref = payment_method_ref(object_id(obj.get("customer")), method) or method
    ours = metadata(obj).get("subscription_id")
    if ours:  # a card update the account API started (refrain.account.payment_method)
        return ProviderEvent(
            **base,
            subject=Subject(subscription_id=ours),
            input=PaymentMethodUpdated(
                input_id=base["event_id"], occurred_at=base["occurred_at"], payment_method_ref=ref
            ),
        )
    return _updated(base, ref, seti, base["event_id"])


def _attached(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    method, customer = object_id(obj.get("id")), object_id(obj.get("customer"))
    if not (method and customer):
        return ProviderEvent(**base, ignored="payment method attached to no customer")
    return _updated(base, f"{customer}:{method}", customer, base["event_id"])


def _customer_updated(
    base: dict[str, Any], obj: dict[str, Any], catalog: Catalog, previous: Mapping[str, Any]
) -> ProviderEvent:
    # Only a change of the invoice default moves the card: customer.updated also reports
    # e-mail, address and balance changes (`previous_attributes` names what changed).
    before = previous.get("invoice_settings")
    if not isinstance(before, dict) or "default_payment_method" not in before:
        return ProviderEvent(**base, ignored="customer's invoice default did not change")
    settings = obj.get("invoice_settings") or {}
    method, customer = object_id(settings.get("default_payment_method")), object_id(obj.get("id"))
    if not (method and customer):
        return ProviderEvent(**base, ignored="invoice default removed; the stored card stays")
    return _updated(base, f"{customer}:{method}", customer, base["event_id"])


CAPTURES: dict[str, Capture] = {
    "setup_intent.succeeded": _setup_intent,
    "payment_method.attached": _attached,
    "customer.updated": _customer_updated,
}
