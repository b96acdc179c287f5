"""Firestore client from settings; emulator selection is the library's own.

Every unary call (reads, transaction begin/commit/rollback, writes) is bounded
by ``CloudSettings.firestore_deadline_s`` including the library's own retries.
The generated client's defaults retry UNAVAILABLE and DEADLINE_EXCEEDED for 60 s
per call; during an outage a webhook would hold the provider's connection past
its timeout and a push consumer past its ack deadline, and a transaction could
spend minutes. Bounded, the caller fails fast: the webhook answers 503 and the
provider retries; a consumer raises and Pub/Sub redelivers. Streaming queries
keep the library defaults (a scan may legitimately run long).

A rollback gets at most ``ROLLBACK_S``: it follows a failure, often the store not
answering, and an unanswered rollback costs nothing (the transaction expires on
its own), so a failed transaction costs one deadline, not two.
"""

from __future__ import annotations

from google.api_core import exceptions, gapic_v1
from google.api_core import retry as retries
from google.cloud import firestore

from refrain.settings import CloudSettings

# The generated transport's unary methods (names in firestore_v1's FirestoreGrpcTransport).
BOUNDED_METHODS = (
    "get_document",
    "batch_get_documents",
    "begin_transaction",
    "commit",
    "rollback",
    "create_document",
    "update_document",
    "delete_document",
    "batch_write",
)
ROLLBACK_S = 1.0
_TRANSIENT = retries.if_exception_type(
    exceptions.DeadlineExceeded,
    exceptions.InternalServerError,
    exceptions.ResourceExhausted,
    exceptions.ServiceUnavailable,
)


def store_unreachable(exc: BaseException) -> bool:
    """The store did not answer within its deadline (not contention, not a bad request):
    another call now would only wait as long again."""
    return isinstance(
        exc, (exceptions.RetryError, exceptions.DeadlineExceeded, exceptions.ServiceUnavailable)
    )


def build_firestore(settings: CloudSettings) -> firestore.Client:
    # With FIRESTORE_EMULATOR_HOST set the library uses anonymous credentials itself.
    client = firestore.Client(project=settings.project)
    bound_calls(client, settings.firestore_deadline_s)
    return client


def bound_calls(client: firestore.Client, deadline_s: float) -> None:
    """Re-wrap the unary RPCs with a retry whose total time is ``deadline_s``.

    The Firestore client offers no public switch for default timeouts (the
    transaction commit path takes none per call), so this replaces the
    transport's wrapped-method table, the same table the generated client reads
    on every call. tests/integration/reliability/test_outages.py fails if a
    library upgrade changes that.
    """
    transport = client._firestore_api._transport
    retry = retries.Retry(
        initial=0.1, maximum=1.0, multiplier=1.5, predicate=_TRANSIENT, timeout=deadline_s
    )
    for name in BOUNDED_METHODS:
        method = getattr(transport, name)
        if method not in transport._wrapped_methods:
            raise RuntimeError(f"firestore transport has no wrapped method {name}")
        bound = min(deadline_s, ROLLBACK_S) if name == "rollback" else deadline_s
        transport._wrapped_methods[method] = gapic_v1.method.wrap_method(
            method, default_retry=retry.with_timeout(bound), default_timeout=bound
        )
