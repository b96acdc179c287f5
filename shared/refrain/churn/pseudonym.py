"""Subscriber keys: HMAC-SHA256 of the account id under a secret pepper (invariant 7).

A plain hash of an account id can be reversed by hashing every known id; a
keyed hash cannot without the pepper, which lives only in Secret Manager
(mounted as ``REFRAIN_SUBSCRIBER_PEPPER``). The same pepper always gives the
same key, so rows join across days; rotating it starts new keys (by design:
that is how an analytics history is cut loose from identities).

Subscription ids and event ids are keyed the same way, under a different
domain prefix, because they too lead back to a person through Firestore or
the payment provider (a Play purchase token, an Apple transaction id).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Final

__all__ = [
    "LOCAL_PEPPER",
    "PEPPER_ENV",
    "MissingPepper",
    "Pseudonymizer",
    "load_pepper",
]

PEPPER_ENV: Final = "REFRAIN_SUBSCRIBER_PEPPER"
ENVIRONMENT_ENV: Final = "REFRAIN_ENVIRONMENT"
LOCAL_PEPPER: Final = "refrain-local-pepper-not-a-secret"
MIN_PEPPER_BYTES: Final = 16
_LOCAL_ENVIRONMENTS: Final = frozenset({"local", "test", "dev"})
_CACHE_LIMIT: Final = 200_000


class MissingPepper(RuntimeError):
    """No usable pepper outside local/test: refuse to export rather than export weakly."""


def load_pepper(env: Mapping[str, str] | None = None, *, local: bool = False) -> bytes:
    """The pepper from the environment; a fixed, public one only for local/test runs.

    ``local`` is what the caller knows (clients point at emulators); the
    environment can also say so with ``REFRAIN_ENVIRONMENT=local|test``.
    """
    env = os.environ if env is None else env
    value = env.get(PEPPER_ENV, "")
    if value:
        if len(value.encode()) < MIN_PEPPER_BYTES:
            raise MissingPepper(f"{PEPPER_ENV} must be at least {MIN_PEPPER_BYTES} bytes")
        return value.encode()
    if local or env.get(ENVIRONMENT_ENV, "").lower() in _LOCAL_ENVIRONMENTS:
        return LOCAL_PEPPER.encode()
    raise MissingPepper(
        f"{PEPPER_ENV} is not set; churn export refuses to run outside local/test without it"
    )


class Pseudonymizer:
    """Keyed hashes for accounts, subscriptions and events, memoised (the hot path)."""

    __slots__ = ("_accounts", "_key", "_subscriptions")

    def __init__(self, pepper: bytes) -> None:
        if not pepper:
            raise MissingPepper("empty pepper")
        self._key = pepper
        self._accounts: dict[str, str] = {}
        self._subscriptions: dict[str, str] = {}

    def _mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def subscriber_key(self, account_id: str) -> str:
        """HMAC-SHA256(pepper, account_id), hex: the brief's subscriber key, exactly."""
        key = self._accounts.get(account_id)
        if key is None:
            if len(self._accounts) >= _CACHE_LIMIT:
                self._accounts.clear()
            key = self._accounts[account_id] = self._mac(account_id)
        return key

    def subscription_key(self, subscription_id: str) -> str:
        key = self._subscriptions.get(subscription_id)
        if key is None:
            if len(self._subscriptions) >= _CACHE_LIMIT:
                self._subscriptions.clear()
            key = self._subscriptions[subscription_id] = self._mac(
                "subscription\x00" + subscription_id
            )[:32]
        return key

    def signal_id(self, subscription_key: str, sequence: int) -> str:
        """Deterministic per domain event (subscription + sequence): the dedupe key."""
        return f"{subscription_key}-{sequence}"
