"""renewal_trigger: scheduled renewals, two entry points sharing one source folder.

renewal_tick (Cloud Scheduler -> `renewal-ticks`): query what is due through the
composite index, page by page, and publish one `renewal-charges` message per
subscription (ordering key = subscription id). The tick payload is ignored.

renewal_charge (`renewal-charges`): apply the due timer; for a renewal, claim the
charge, charge it once through the gateway, record the outcome (see
refrain.renewals.worker). Returning acks; raising nacks, so Pub/Sub redelivers
(gateway timeouts and 5xx, Firestore contention) with bounded retries and a
dead-letter topic. A malformed message is logged and acked: it can never succeed.
A message with a ``trace`` attribute has its lines logged under that trace.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import functions_framework

from refrain import bootstrap, config_contract, serving
from refrain.push_envelope import MalformedPush, decode_push, push_message_id
from refrain.renewals.messages import BadMessage, ChargeMessage

if TYPE_CHECKING:  # each entry point loads only its own service (bootstrap imports it)
    from refrain.renewals.tick import TickService
    from refrain.renewals.worker import ChargeWorker

# In the cloud, a missing setting stops the instance here, by name.
config_contract.refuse_incomplete("renewal_trigger")
serving.limit_the_server()  # request-line bound, no control socket (refrain.serving)


@functools.cache
def tick() -> TickService:
    """One service per instance, built on the first delivery."""
    return bootstrap.build_tick()


@functools.cache
def worker() -> ChargeWorker:
    """One worker per instance, built on the first delivery."""
    return bootstrap.build_charge_worker()


@functions_framework.cloud_event
def renewal_tick(cloud_event: Any) -> None:
    tick().run()


@functions_framework.cloud_event
def renewal_charge(cloud_event: Any) -> None:
    charges = worker()
    try:
        message = decode_push(cloud_event.data)
        charge = ChargeMessage.decode(message.data)
    except (MalformedPush, BadMessage) as exc:
        charges.log.error(
            "malformed renewal message acked",
            message_id=push_message_id(cloud_event.data),
            reason=str(exc),
        )
        return
    charges.handle(charge, trace=message.trace)
