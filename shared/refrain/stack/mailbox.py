"""Read back what the local SES (moto) accepted, for the demo and tests."""

from __future__ import annotations

from typing import Any

import requests

from refrain.stack.config import StackConfig


def sent_mail(config: StackConfig) -> list[dict[str, Any]]:
    """Every message moto's SES has accepted since the last reset."""
    data = requests.get(
        f"http://{config.host}:{config.ses_port}/moto-api/data.json", timeout=10
    ).json()
    messages: list[dict[str, Any]] = data.get("ses", {}).get("Message", [])
    return messages


def sent_raw_mail(config: StackConfig) -> list[dict[str, Any]]:
    """Raw-MIME messages (SES v2 ``Content.Raw``, e.g. receipts with a PDF); each has
    ``id``, ``source``, ``destinations`` and ``raw_data`` (the MIME text)."""
    data = requests.get(
        f"http://{config.host}:{config.ses_port}/moto-api/data.json", timeout=10
    ).json()
    messages: list[dict[str, Any]] = data.get("ses", {}).get("RawMessage", [])
    return messages
