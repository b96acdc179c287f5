"""One JSON line per event, in the shape Cloud Logging reads from stdout.

`severity`, `message`, `logging.googleapis.com/trace` and `.../labels` are
the special fields Cloud Logging lifts out of a structured line. The ids an
operator follows a payment by (provider, provider_event_id, subscription_id,
charge_id, invoice_id, event_id) go into labels so they are indexed.

Secrets and personal data never reach a log line: keys that name them are
redacted, and e-mail addresses are masked in every string value.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

LABEL_KEYS = frozenset(
    {
        "function",
        "provider",
        "provider_event_id",
        "subscription_id",
        "charge_id",
        "invoice_id",
        "event_id",
        "event_type",
        "outcome",
    }
)
_SENSITIVE = re.compile(
    r"secret|password|passwd|token|signature|authorization|api[_-]?key|hmac|pepper|email|"
    r"e_mail|name|address|phone|card|iban|account_id",
    re.IGNORECASE,
)
_NOT_SENSITIVE = frozenset({"function", "event_type", "name_of_step"})
# Deliberately broad (any RFC 5322 atom characters): a false mask costs nothing.
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
REDACTED = "[redacted]"


# The Pub/Sub message attribute that carries a request's trace name to the consumers.
TRACE_ATTRIBUTE = "trace"
_TRACE_ID = re.compile(r"[0-9A-Za-z]{1,64}")
_TRACE_NAME = re.compile(r"projects/[A-Za-z0-9:._-]{1,100}/traces/[0-9A-Za-z]{1,64}")


def trace_from_headers(headers: Mapping[str, str], project: str) -> str | None:
    """Cloud Logging trace name from X-Cloud-Trace-Context or W3C traceparent.

    Header names are matched case-insensitively (Flask hands them over title-cased,
    "Traceparent"). A trace id that is not short and alphanumeric is ignored: the
    name travels on as a Pub/Sub attribute, which must stay small and well-formed.
    """
    lower = {key.lower(): value for key, value in headers.items()}
    cloud = lower.get("x-cloud-trace-context")
    if cloud:
        trace_id = cloud.split("/", 1)[0].split(";", 1)[0].strip()
        if _TRACE_ID.fullmatch(trace_id):
            return f"projects/{project}/traces/{trace_id}"
    parent = lower.get("traceparent")
    if parent and parent.count("-") >= 3 and _TRACE_ID.fullmatch(parent.split("-")[1]):
        return f"projects/{project}/traces/{parent.split('-')[1]}"
    return None


def trace_from_attributes(attributes: Mapping[str, Any]) -> str | None:
    """The trace name a message carries in TRACE_ATTRIBUTE, if it is a well-formed one."""
    value = attributes.get(TRACE_ATTRIBUTE)
    return value if isinstance(value, str) and _TRACE_NAME.fullmatch(value) else None


def scrub(value: Any) -> Any:
    """Mask e-mail addresses anywhere in a value, recursively."""
    if isinstance(value, str):
        return _EMAIL.sub("[email]", value)
    if isinstance(value, Mapping):
        return {k: (REDACTED if _is_sensitive(k) else scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _is_sensitive(key: str) -> bool:
    return key not in _NOT_SENSITIVE and bool(_SENSITIVE.search(key))


class Logger:
    """Writes structured lines; `bind` returns a logger that adds fields to every line."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        fields: Mapping[str, Any] | None = None,
        trace: str | None = None,
    ) -> None:
        self._stream = stream
        self._fields = dict(fields or {})
        self._trace = trace

    @property
    def trace(self) -> str | None:
        """The trace name every line carries (None: no trace)."""
        return self._trace

    def bind(self, trace: str | None = None, **fields: Any) -> Logger:
        return Logger(self._stream, {**self._fields, **fields}, trace or self._trace)

    def line(self, severity: str, message: str, **fields: Any) -> dict[str, Any]:
        merged = {**self._fields, **fields}
        entry: dict[str, Any] = {
            "severity": severity,
            "message": scrub(message),
            "time": datetime.now(UTC).isoformat(),
        }
        labels = {}
        for key, value in merged.items():
            if _is_sensitive(key):
                entry[key] = REDACTED
                continue
            clean = scrub(value)
            entry[key] = clean
            if key in LABEL_KEYS and clean is not None:
                labels[key] = str(clean)
        if labels:
            entry["logging.googleapis.com/labels"] = labels
        if self._trace:
            entry["logging.googleapis.com/trace"] = self._trace
        return entry

    def _emit(self, severity: str, message: str, fields: dict[str, Any]) -> None:
        stream = self._stream or sys.stdout
        stream.write(json.dumps(self.line(severity, message, **fields), default=str) + "\n")
        stream.flush()

    def info(self, message: str, **fields: Any) -> None:
        self._emit("INFO", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit("WARNING", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit("ERROR", message, fields)


def get_logger(function: str, stream: IO[str] | None = None) -> Logger:
    return Logger(stream, {"function": function})
