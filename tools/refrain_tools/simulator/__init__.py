"""A Stripe and Adyen stand-in for the demo and tests.

``events``: provider payloads stamped with simulated time; ``WebhookSender``:
signed delivery with retries, duplicates and reordering; ``GatewaySimulator``:
the payments API the renewal adapters call, which also emits the webhooks.
"""

from refrain_tools.simulator.delivery import (
    DeliveryPolicy,
    DeliveryRecord,
    DeliveryStats,
    WebhookSender,
)
from refrain_tools.simulator.gateway import ChargeRecord, GatewaySimulator
from refrain_tools.simulator.outcomes import Kind, decide

__all__ = [
    "ChargeRecord",
    "DeliveryPolicy",
    "DeliveryRecord",
    "DeliveryStats",
    "GatewaySimulator",
    "Kind",
    "WebhookSender",
    "decide",
]
