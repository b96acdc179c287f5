"""Firestore client from settings; emulator selection is the library's own.

Every unary call (reads, transaction begin/commit/rollback, writes) is bounded
by ``CloudSettings.firestore_deadline_s`` including the library's own retries.
The generated client's defaults retry UNAVAILABLE and DEADLINE_EXCEEDED for 60 s
per call; during an outage a webhook would hold the provider's connection past
its timeout and a push consumer past its ack deadline, and a transaction could
spend minutes. Bounded, the caller fails fast: the webhook answers 503 and the
provider retries; a consumer raises and Pub/Sub redelivers. Streaming queries
keep the library defaults (a scan may legitimately run long).

A rollback keeps the whole deadline. Cut to 1 s it often missed a store that thawed
within the deadline, leaving that transaction open; the storm under an outage
(tests/integration/reliability/test_outages.py) then failed 3 runs in 5 (events not
applied after the storm, the emulator refusing its reset with 409), and passed 4 in 4
once the rollback had the deadline again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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
_TRANSIENT = retries.if_exception_type(
    exceptions.DeadlineExceeded,
    exceptions.InternalServerError,
    exceptions.ResourceExhausted,
    exceptions.ServiceUnavailable,
)


def query_pages(query: Any, page_size: int) -> Iterator[list[Any]]:
    """A query's documents ``page_size`` per round trip, resumed after the last one read.

    Every page read is yielded, so a caller can count what each cost: the last one may be
    empty (it is still billed one read) when the one before was full.
    """
    limited = query.limit(page_size)
    cursor = None
    while True:
        snaps = list((limited.start_after(cursor) if cursor is not None else limited).stream())
        yield snaps
        if len(snaps) < page_size:
            return
        cursor = snaps[-1]


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
        transport._wrapped_methods[method] = gapic_v1.method.wrap_method(
            method, default_retry=retry, default_timeout=deadline_s
        )
