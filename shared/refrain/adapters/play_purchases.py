"""The Android Publisher API (``purchases.subscriptionsv2.get``) over google-auth.

google-api-python-client is not a dependency of this project, so we call the
documented REST endpoint with google-auth's ``AuthorizedSession`` (Google's
own client auth library: it obtains and refreshes the OAuth token for the
``androidpublisher`` scope from Application Default Credentials):

    GET {base}/androidpublisher/v3/applications/{packageName}
        /purchases/subscriptionsv2/tokens/{token}

``base_url`` is configurable so tests (and the demo) point it at a local
stand-in; ``anonymous`` skips credentials for such a stand-in only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from refrain.providers.google_play_mapping import PurchaseNotFound

ANDROID_PUBLISHER = "https://androidpublisher.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"


class PlayApiError(RuntimeError):
    """The API failed in a way worth retrying (5xx, 429, network): the push is retried."""


@dataclass
class AndroidPublisherPurchases:
    """Implements refrain.providers.google_play_mapping.PlayPurchases."""

    base_url: str = ANDROID_PUBLISHER
    anonymous: bool = False
    timeout_s: float = 10.0
    _session: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _authorized(self) -> Any:
        with self._lock:
            if self._session is None:
                import google.auth
                from google.auth.credentials import AnonymousCredentials
                from google.auth.transport.requests import AuthorizedSession

                if self.anonymous:
                    credentials: Any = AnonymousCredentials()
                else:
                    credentials, _ = google.auth.default(scopes=[SCOPE])
                self._session = AuthorizedSession(credentials)
            return self._session

    def url(self, package_name: str, purchase_token: str) -> str:
        return (
            f"{self.base_url.rstrip('/')}/androidpublisher/v3/applications/"
            f"{quote(package_name, safe='')}/purchases/subscriptionsv2/tokens/"
            f"{quote(purchase_token, safe='')}"
        )

    def get_subscription(self, package_name: str, purchase_token: str) -> dict[str, Any]:
        import requests

        try:
            response = self._authorized().get(
                self.url(package_name, purchase_token), timeout=self.timeout_s
            )
        except requests.RequestException as exc:
            raise PlayApiError(f"Android Publisher unreachable: {type(exc).__name__}") from exc
        if response.status_code in (404, 410):
            raise PurchaseNotFound(f"purchase token unknown to Play ({response.status_code})")
        if response.status_code != 200:
            # 401/403 are our configuration (service account not linked in Play Console):
            # retrying is right, an operator fixes it and the pushes then go through.
            raise PlayApiError(f"Android Publisher answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise PlayApiError("Android Publisher answered with a non-JSON body") from exc
        if not isinstance(body, dict):
            raise PlayApiError("Android Publisher answered with a non-object body")
        return body
