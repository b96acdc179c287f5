"""The provider-neutral shape every webhook payload is normalised into.

A normaliser never touches storage: it says which subscription the event is
about (our id when the provider echoes it back, otherwise a provider object
reference to look up), what input to apply, and what to record alongside
(a subscription to create at checkout, the customer's contact details, new
provider references to index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from refrain.domain.customer import CustomerDetails
from refrain.domain.inputs import Input
from refrain.domain.subscription import BillingMode


class MappingError(ValueError):
    """A verified event we cannot map (e.g. missing metadata): permanent, needs an operator."""


@dataclass(frozen=True, slots=True)
class SubscriptionDraft:
    """What checkout tells us about a subscription that does not exist yet."""

    account_id: str
    provider: str
    billing_mode: BillingMode
    plan: str
    market: str
    payment_method_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """How to find the subscription: our id directly, or a provider reference."""

    subscription_id: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    provider: str
    event_id: str
    event_type: str
    occurred_at: datetime
    subject: Subject | None = None
    input: Input | None = None
    draft: SubscriptionDraft | None = None
    customer: CustomerDetails | None = None
    account_id: str | None = None
    refs: tuple[str, ...] = field(default=())
    ignored: str | None = None

    @property
    def dedupe_key(self) -> str:
        """The id of the dedupe/outbox record (the storage adapter encodes it, invariant 11)."""
        return f"{self.provider}:{self.event_id}"


def subscription_id_for(provider: str, provider_id: str) -> str:
    """Our id for a subscription the provider owns (Stripe Billing, stores).

    Injective for a provider: the provider's id is kept as it is (``a/b`` and
    ``a_b`` are two subscriptions); storage encodes it where it becomes a
    document id (invariant 11).
    """
    return f"{provider}_{provider_id}"
