"""Helpers shared by tests: load a Cloud Function's main.py, sign provider payloads,
pull what reached a Pub/Sub subscription, count Firestore reads."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from refrain.churn.pseudonym import ENVIRONMENT_ENV

if TYPE_CHECKING:
    from refrain.settings import CloudSettings

ROOT = Path(__file__).resolve().parent.parent


def load_function(name: str) -> Any:
    """Import functions/<name>/main.py under a unique module name.

    Typed ``Any``: tests reach into a function module's instance state (its cached service).
    """
    module_name = f"refrain_function_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = ROOT / "functions" / name / "main.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # Imported before a test points the clients at the stack: say it is a test run, or
    # the module's start-up check would ask for the cloud's settings.
    before = os.environ.get(ENVIRONMENT_ENV)
    os.environ[ENVIRONMENT_ENV] = "test"
    try:
        spec.loader.exec_module(module)
    finally:
        if before is None:
            del os.environ[ENVIRONMENT_ENV]
        else:
            os.environ[ENVIRONMENT_ENV] = before
    return module


FIXTURES = ROOT / "tests" / "fixtures"
# The basic authentication Adyen sends with every notification (required with an HMAC key).
ADYEN_USER, ADYEN_PASSWORD = "refrain", "basic-auth-tests-only"  # pragma: allowlist secret
ADYEN_AUTH_ENV = {"ADYEN_BASIC_AUTH_USER": ADYEN_USER, "ADYEN_BASIC_AUTH_PASSWORD": ADYEN_PASSWORD}


def stripe_header(payload: bytes, secret: str, timestamp: int) -> str:
    """A Stripe-Signature header as Stripe computes it (t=..., v1=HMAC-SHA256)."""
    import hashlib
    import hmac

    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def adyen_sign(item: dict[str, object], key_hex: str) -> dict[str, object]:
    """Return a copy of a NotificationRequestItem with a fresh hmacSignature."""
    import copy

    import Adyen.util

    signed = copy.deepcopy(item)
    extra = dict(signed.get("additionalData") or {})  # type: ignore[call-overload]
    extra.pop("hmacSignature", None)
    signed["additionalData"] = extra
    unsigned = {k: v for k, v in signed.items() if k != "additionalData"}
    extra["hmacSignature"] = Adyen.util.generate_notification_sig(unsigned, key_hex).decode()
    return signed


def pull_messages(
    settings: Any,
    subscription: str,
    until: Callable[[list[Any]], bool] | None = None,
    *,
    timeout_s: float = 20.0,
    max_messages: int = 100,
) -> list[Any]:
    """Pull and ack the messages (``PubsubMessage``) a subscription hands out.

    Stops when ``until(messages so far)`` holds, or, without ``until``, at the first
    empty pull; always by ``timeout_s``. An ordered subscription hands out one message
    per key at a time, hence the loop. ``settings`` is a CloudSettings.
    """
    from google.api_core.exceptions import DeadlineExceeded

    from refrain.adapters.pubsub import build_subscriber

    subscriber = build_subscriber(settings)
    path = subscriber.subscription_path(settings.project, subscription)
    messages: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not (until and until(messages)):
            try:
                request = {"subscription": path, "max_messages": max_messages}
                received = list(subscriber.pull(request=request, timeout=3).received_messages)
            except DeadlineExceeded:
                received = []
            if not received and until is None:
                break
            messages += [r.message for r in received]
            if received:
                ack_ids = [r.ack_id for r in received]
                subscriber.acknowledge(request={"subscription": path, "ack_ids": ack_ids})
    finally:
        subscriber.close()
    return messages


def sweep_outbox(settings: CloudSettings, at: datetime) -> int:
    """The scheduled outbox sweep (as bootstrap builds it), run as if it were ``at``."""
    from refrain.bootstrap import sweep_outbox as sweep
    from refrain.domain.clock import FixedClock

    return sweep(settings, FixedClock(at))


def adyen_auth() -> dict[str, str]:
    """The Authorization header of an Adyen notification, as the tests configure it."""
    from refrain_tools.simulator.signing import basic_auth

    return {"Authorization": basic_auth(ADYEN_USER, ADYEN_PASSWORD)}


@contextmanager
def counted_reads() -> Iterator[Counter[str]]:
    """Firestore documents read and queries run, per RPC, counted at the GAPIC client (every
    client in the process) until the block ends: a batch get counts its documents, any
    other call one (an empty query is billed one read)."""
    from google.cloud.firestore_v1.services.firestore import client as gapic

    counts: Counter[str] = Counter()
    names = ("get_document", "batch_get_documents", "run_query", "run_aggregation_query")
    originals = {name: getattr(gapic.FirestoreClient, name) for name in names}

    def counting(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request") or (args[0] if args else {})
            documents = request.get("documents") if isinstance(request, dict) else None
            counts[name] += len(documents) if documents else 1
            return original(self, *args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(gapic.FirestoreClient, name, counting(name, original))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(gapic.FirestoreClient, name, original)
