"""Read back what the local SES (moto) accepted, for the demo and tests."""

from __future__ import annotations

from typing import Any

import requests

from refrain_tools.stack.config import StackConfig


def _ses_store(config: StackConfig) -> dict[str, Any]:
    """moto's record of the SES backend: accepted messages by kind."""
    data = requests.get(
        f"http://{config.host}:{config.ses_port}/moto-api/data.json", timeout=10
    ).json()
    ses: dict[str, Any] = data.get("ses", {})
    return ses


def sent_raw_mail(config: StackConfig) -> list[dict[str, Any]]:
    """Raw-MIME messages (SES v2 ``Content.Raw``, e.g. receipts with a PDF); each has
    ``id``, ``source``, ``destinations`` and ``raw_data`` (the MIME text)."""
    messages: list[dict[str, Any]] = _ses_store(config).get("RawMessage", [])
    return messages
