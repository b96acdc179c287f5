"""The card a Stripe renewal charges, captured from the objects Stripe sends (fixture shapes)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refrain.domain import load_catalog
from refrain.domain.inputs import CheckoutCompleted, PaymentMethodUpdated, PaymentSucceeded
from refrain.ingest.model import MappingError, ProviderEvent
from refrain.providers.stripe_events import normalise_stripe_events
from tests.support import FIXTURES

CATALOG = load_catalog()
EVENTS = FIXTURES / "stripe" / "events"
CUSTOMER, PM = "cus_QXg1o8vcGmoR32", "pm_1Pgc75B7WZ01zgkWlHVgdEGJ"


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def saving_intent(usage: str | None = "off_session", method: str | None = PM) -> dict[str, Any]:
    """payment_intent.succeeded of a payment-mode Checkout created with setup_future_usage."""
    raw = fixture("payment_intent.succeeded")
    raw["data"]["object"].update(setup_future_usage=usage, payment_method=method)
    return raw


def method_of(events: list[ProviderEvent]) -> PaymentMethodUpdated | None:
    found = [e.input for e in events if isinstance(e.input, PaymentMethodUpdated)]
    assert len(found) <= 1
    return found[0] if found else None


def test_payment_mode_with_setup_future_usage_saves_the_intents_card() -> None:
    events = normalise_stripe_events(saving_intent(), CATALOG)
    saved, paid = events
    assert isinstance(saved.input, PaymentMethodUpdated)
    assert saved.input.payment_method_ref == f"{CUSTOMER}:{PM}"
    assert saved.subject is not None and saved.subject.ref == "stripe:pi_1PgafyB7WZ01zgkWSjxsAJo3"
    assert isinstance(paid.input, PaymentSucceeded)  # the payment itself is still reported
    # two inputs from one event: each has its own dedupe key and input id
    assert saved.dedupe_key != paid.dedupe_key
    assert saved.input.input_id != paid.input.input_id


@pytest.mark.parametrize(
    ("usage", "method"), [(None, PM), ("on_session", PM), ("off_session", None)]
)
def test_a_payment_that_saved_no_off_session_card_changes_no_card(
    usage: str | None, method: str | None
) -> None:
    events = normalise_stripe_events(saving_intent(usage, method), CATALOG)
    assert method_of(events) is None and len(events) == 1


def test_our_renewal_payment_intents_save_nothing() -> None:
    raw = saving_intent(usage=None)
    raw["data"]["object"]["metadata"] = {"subscription_id": "sub_1", "charge_id": "sub_1:x:1"}
    [event] = normalise_stripe_events(raw, CATALOG)
    assert isinstance(event.input, PaymentSucceeded)


def test_setup_mode_saves_the_setup_intents_card() -> None:
    [event] = normalise_stripe_events(fixture("setup_intent.succeeded"), CATALOG)
    assert isinstance(event.input, PaymentMethodUpdated)
    assert event.input.payment_method_ref == f"{CUSTOMER}:{PM}"
    assert event.subject is not None and event.subject.ref == "stripe:seti_1Pgag7B7WZ01zgkWSgwGdb8Z"


def test_setup_intents_for_on_session_use_or_without_card_are_ignored() -> None:
    for change in ({"usage": "on_session"}, {"payment_method": None}):
        raw = fixture("setup_intent.succeeded")
        raw["data"]["object"].update(change)
        [event] = normalise_stripe_events(raw, CATALOG)
        assert event.input is None and event.ignored


@pytest.mark.parametrize("name", ["customer.updated", "payment_method.attached"])
def test_a_new_invoice_default_or_a_card_attached_later_is_the_customers_card(name: str) -> None:
    [event] = normalise_stripe_events(fixture(name), CATALOG)
    assert isinstance(event.input, PaymentMethodUpdated)
    assert event.input.payment_method_ref == f"{CUSTOMER}:{PM}"
    assert event.subject is not None and event.subject.ref == f"stripe:{CUSTOMER}"


def test_customer_updates_that_do_not_set_a_default_change_no_card() -> None:
    email_only = fixture("customer.updated")
    email_only["data"]["previous_attributes"] = {"email": "old@example.com"}
    removed = fixture("customer.updated")
    removed["data"]["object"]["invoice_settings"]["default_payment_method"] = None
    removed["data"]["previous_attributes"] = {"invoice_settings": {"default_payment_method": PM}}
    for raw in (email_only, removed):
        [event] = normalise_stripe_events(raw, CATALOG)
        assert event.input is None and event.ignored


def test_a_card_attached_to_no_customer_is_ignored() -> None:
    detached = fixture("payment_method.attached")
    detached["data"]["object"]["customer"] = None
    assert normalise_stripe_events(detached, CATALOG)[0].ignored


def _checkout(**session: Any) -> dict[str, Any]:
    raw = fixture("checkout.session.completed")
    defaults = {"customer": CUSTOMER, "amount_total": 13900, "currency": "sek"}
    raw["data"]["object"].update({**defaults, "subscription": None, **session})
    return raw


META = {"account_id": "acct_1", "plan": "individual_monthly", "market": "SE"}


def test_checkouts_index_what_the_card_events_name_and_store_only_the_customer() -> None:
    paid = _checkout(mode="payment", payment_intent="pi_1", setup_intent=None, metadata=META)
    setup = _checkout(
        mode="setup", payment_intent=None, setup_intent="seti_1",
        payment_status="no_payment_required", amount_total=None, metadata=META,
    )  # fmt: skip
    for raw, intent in ((paid, "stripe:pi_1"), (setup, "stripe:seti_1")):
        [event] = normalise_stripe_events(raw, CATALOG)
        assert isinstance(event.input, CheckoutCompleted)
        assert event.input.payment_method_ref == CUSTOMER
        assert {intent, f"stripe:{CUSTOMER}"} <= set(event.refs)
    [trial] = normalise_stripe_events(setup, CATALOG)
    assert isinstance(trial.input, CheckoutCompleted) and trial.input.trial_days == 30


def test_a_payment_method_in_session_metadata_is_not_trusted() -> None:
    raw = _checkout(
        mode="payment", payment_intent="pi_1", metadata={**META, "payment_method": "cus_x:pm_x"}
    )
    [event] = normalise_stripe_events(raw, CATALOG)
    assert isinstance(event.input, CheckoutCompleted)
    assert event.input.payment_method_ref == CUSTOMER
    assert event.draft is not None and event.draft.payment_method_ref == CUSTOMER


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {s for v in value.values() for s in _strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in _strings(v)}
    return {value} if isinstance(value, str) else set()


ids = st.text(st.characters(codec="ascii", exclude_characters=":"), min_size=1, max_size=12)
values = st.none() | ids | st.integers() | st.dictionaries(st.just("id"), st.none() | ids)
defaults = st.dictionaries(st.just("default_payment_method"), values)


@given(
    kind=st.sampled_from(
        ["payment_intent.succeeded", "setup_intent.succeeded", "payment_method.attached",
         "customer.updated"]
    ),
    fields=st.fixed_dictionaries(
        {}, optional={
            "customer": values, "payment_method": values, "setup_future_usage": values,
            "usage": values, "id": values, "status": values,
            "invoice_settings": st.none() | defaults,
        },
    ),
    previous=st.none() | st.dictionaries(st.just("invoice_settings"), st.none() | st.just({})),
)  # fmt: skip
def test_any_shape_maps_or_is_refused_and_a_card_is_always_customer_and_method(
    kind: str, fields: dict[str, Any], previous: dict[str, Any] | None
) -> None:
    raw = copy.deepcopy(fixture(kind))
    raw["data"]["object"].update(fields)
    if previous is not None:
        raw["data"]["previous_attributes"] = previous
    try:
        events = normalise_stripe_events(raw, CATALOG)
    except MappingError:
        return
    method = method_of(events)
    if method is not None:
        customer, _, card = method.payment_method_ref.rpartition(":")
        assert card and (customer or kind == "setup_intent.succeeded")
        assert card in _strings(raw["data"]["object"])  # never invented


def test_a_setup_intent_the_account_api_created_finds_its_subscription_by_metadata() -> None:
    raw = fixture("setup_intent.succeeded")
    raw["data"]["object"]["metadata"] = {"subscription_id": "sub_card_update"}
    [event] = normalise_stripe_events(raw, CATALOG)
    assert isinstance(event.input, PaymentMethodUpdated)
    assert event.subject is not None and event.subject.subscription_id == "sub_card_update"
    customer = raw["data"]["object"]["customer"]
    method = raw["data"]["object"]["payment_method"]
    assert event.input.payment_method_ref == f"{customer}:{method}"
    # without our metadata: the checkout's SetupIntent, found by its indexed id, as before
    plain = fixture("setup_intent.succeeded")
    [before] = normalise_stripe_events(plain, CATALOG)
    assert before.subject is not None and before.subject.ref is not None
    assert before.subject.ref.startswith("stripe:seti_")
