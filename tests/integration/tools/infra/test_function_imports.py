"""Each function loads only what its own entry point uses.

A cold start pays for every import, so each deployed function's main.py is imported
and its service built (clients connect lazily: dummy emulator addresses suffice) in a
fresh interpreter, as the function's first request would, and ``sys.modules`` is
compared with what that entry point needs:

- the heavy client libraries and SDKs (``HEAVY``): exactly the ones it uses. The webhook
  never loads BigQuery or boto3 (and a provider's SDK only with that provider's first
  request); the renewal functions load no payment SDK with the local sandbox; the
  exports load no Firestore; only receipts load boto3 and the PDF library;
- Refrain's own packages (``FORBIDDEN``), derived from what each entry point runs: the
  renewal functions never load the receipt renderer, the webhook's ingest or the catalog
  (the state machine decides a plan change from ranks alone), and neither loads the
  other's service; the webhook loads no renewal, receipt or BigQuery-row code; receipts
  no ingest or renewal code; the exports no ledger, outbox, ingest, renewal or receipt
  code.

bench/cold_start.py measures what this keeps out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.integration
HEAVY = ("stripe", "Adyen", "appstoreserverlibrary", "google.cloud.bigquery",
         "google.cloud.firestore", "boto3", "fpdf")  # fmt: skip
RECEIPTS = ("refrain.invoicing",)  # the receipt renderer, numbering and sending
RENEWALS = ("refrain.renewals",)
INGEST = ("refrain.ingest", "refrain.providers")
ROWS = ("refrain.churn.rows", "refrain.churn.transform", "refrain.churn.export")
# function: (source, the module's builder its first request calls, heavy libraries it may
# load, Refrain modules (and their submodules) it must not load)
FUNCTIONS: dict[str, tuple[str, str, set[str], tuple[str, ...]]] = {
    # the service-to-service OIDC check is the Play push's (refrain.providers' one module)
    "account_api": ("account_api", "api", {"google.cloud.firestore"},
                    (*ROWS, "refrain.ingest.service", "refrain.ingest.routes",
                     "refrain.renewals.worker")),
    "checkout_webhook": ("checkout_webhook", "webhooks", {"google.cloud.firestore"},
                         (*RECEIPTS, *RENEWALS, *ROWS)),
    "renewal_tick": ("renewal_trigger", "tick", {"google.cloud.firestore"},
                     (*RECEIPTS, *INGEST, *ROWS, "refrain.domain.catalog",
                      "refrain.renewals.worker", "refrain.renewals.gateway")),
    "renewal_charge": ("renewal_trigger", "worker", {"google.cloud.firestore"},
                       (*RECEIPTS, *INGEST, *ROWS, "refrain.domain.catalog",
                        "refrain.renewals.tick")),
    "receipt_email": ("receipt_email", "service", {"google.cloud.firestore", "boto3", "fpdf"},
                      (*INGEST, *RENEWALS, *ROWS, "refrain.ledger", "refrain.outbox")),
    "churn_export": ("churn_export", "flusher", {"google.cloud.bigquery"},
                     (*RECEIPTS, *INGEST, *RENEWALS, "refrain.ledger", "refrain.outbox")),
    "feature_snapshot": ("churn_export", "", set(),  # builds its writer per run
                         (*RECEIPTS, *INGEST, *RENEWALS, "refrain.ledger", "refrain.outbox")),
}  # fmt: skip
PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("m", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
if sys.argv[2]:
    getattr(m, sys.argv[2])()
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(source: str, builder: str) -> set[str]:
    """Every module in sys.modules once main.py is imported and ``builder`` has run."""
    env = {
        **os.environ,
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
        "REFRAIN_BIGQUERY_ENDPOINT": "http://127.0.0.1:9",
        "REFRAIN_SES_ENDPOINT": "http://127.0.0.1:9",
        "GOOGLE_CLOUD_PROJECT": "p",
        "STRIPE_WEBHOOK_SECRET": "whsec_probe",  # pragma: allowlist secret
    }
    main = ROOT / "functions" / source / "main.py"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(main), builder],
        capture_output=True, text=True, check=False, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def under(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_a_function_loads_only_what_its_entry_point_uses(function: str) -> None:
    source, builder, allowed, forbidden = FUNCTIONS[function]
    modules = loaded_by(source, builder)
    heavy = {h for h in HEAVY if h in modules}
    assert heavy == allowed, f"{function} loads {sorted(heavy)}, expected {sorted(allowed)}"
    assert not under(modules, forbidden), f"{function} loads {under(modules, forbidden)}"


def test_the_probe_sees_what_a_function_loads() -> None:
    """The forbidden lists mean something: each is loaded by some other function."""
    loaded = {name: loaded_by(source, builder) for name, (source, builder, _, _) in
              FUNCTIONS.items()}  # fmt: skip
    for name, (_, _, _, forbidden) in FUNCTIONS.items():
        for package in forbidden:
            users = [other for other, modules in loaded.items() if under(modules, (package,))]
            assert users, f"{name} forbids {package}, which no function loads"
