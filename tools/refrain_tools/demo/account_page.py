"""The demo's subscriber on the account page: one demo customer made able to sign in.

After the business has run, one merchant-managed customer with an active subscription
and receipts gets an e-mail/password user in the Firebase Auth emulator whose uid is
their account id (as checkout records the signed-in user's uid in the cloud). The page
served by the demo's own ``account_api`` is then checked the way a browser uses it: the
page answers with its Content-Security-Policy, the user signs in at the emulator, and
``GET /v1/me/account-view`` shows their plan. The summary prints the link and the
credentials; ``refrain demo --serve`` keeps everything up so a person can use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from refrain.adapters.firestore_collections import CUSTOMERS, SUBSCRIPTIONS, keyed

# The local emulator's only user password, printed in the summary: nothing else uses it.
DEMO_PASSWORD = "refrain-demo-only"  # noqa: S105  # pragma: allowlist secret
PAGE_PATH = "/v1/account-page/"


@dataclass(frozen=True)
class DemoSubscriber:
    url: str
    email: str
    password: str
    plan: str
    invoices: int


def open_account_page(db: Any, emulator_host: str, project: str, api_url: str) -> DemoSubscriber:
    """Make the demo subscriber a user, sign in as a browser would and read the page's view."""
    account, plan = _pick(db)
    profile = keyed(db, CUSTOMERS, account).get().to_dict() or {}
    email = str(profile.get("email") or f"subscriber-{account[-8:]}@refrain.example")
    auth = f"http://{emulator_host}/identitytoolkit.googleapis.com/v1"
    made = requests.post(
        f"{auth}/projects/{project}/accounts",
        json={"localId": account, "email": email, "password": DEMO_PASSWORD},
        headers={"Authorization": "Bearer owner"},  # the emulator's admin credential
        timeout=10,
    )
    if made.status_code != 200 and "DUPLICATE" not in made.text and "EXISTS" not in made.text:
        made.raise_for_status()
    page = requests.get(api_url + PAGE_PATH, timeout=10)
    page.raise_for_status()
    if "script-src 'self'" not in page.headers.get("Content-Security-Policy", ""):
        raise RuntimeError("the account page answered without its Content-Security-Policy")
    signed = requests.post(
        f"{auth}/accounts:signInWithPassword?key=local-emulator",
        json={"email": email, "password": DEMO_PASSWORD, "returnSecureToken": True},
        timeout=10,
    )
    signed.raise_for_status()
    view = requests.get(
        f"{api_url}/v1/me/account-view?lang=en",
        headers={"Authorization": f"Bearer {signed.json()['idToken']}"},
        timeout=20,
    )
    view.raise_for_status()
    shown = view.json()
    labels = [s["plan_label"] for s in shown["subscriptions"] if s["plan"] == plan]
    if not labels:
        raise RuntimeError("the account page's view does not show the demo subscriber's plan")
    return DemoSubscriber(api_url + PAGE_PATH, email, DEMO_PASSWORD, labels[0],
                          len(shown["invoices"]))  # fmt: skip


def _pick(db: Any) -> tuple[str, str]:
    """The first (by id) active, merchant-managed, uncancelled subscription: its account."""
    from google.cloud import firestore

    found = (
        db.collection(SUBSCRIPTIONS)
        .where(filter=firestore.FieldFilter("state", "==", "active"))
        .where(filter=firestore.FieldFilter("billing_mode", "==", "merchant_managed"))
        .limit(50)
        .stream()
    )
    candidates = sorted(
        (doc.to_dict() for doc in found),
        key=lambda sub: str(sub.get("subscription_id")),
    )
    for sub in candidates:
        if not sub.get("cancel_at_period_end") and sub.get("account_id"):
            return str(sub["account_id"]), str(sub["plan"])
    raise RuntimeError("no active merchant-managed subscription to show on the account page")
