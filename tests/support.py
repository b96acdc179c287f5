"""Helpers shared by tests: load a Cloud Function's main.py as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

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
    spec.loader.exec_module(module)
    return module


FIXTURES = ROOT.parent / "shared" / "fixtures"


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
