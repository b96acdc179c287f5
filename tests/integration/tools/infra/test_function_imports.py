"""Each function loads only the client libraries its own entry point uses.

A cold start pays for every import, so each deployed function's main.py is imported
and its service built (clients connect lazily: dummy emulator addresses suffice) in a
fresh interpreter, as the function's first request would, and the heavy libraries in
``sys.modules`` are compared with what that entry point needs. The webhook never loads
BigQuery or boto3; the renewal tick loads no payment SDK; the exports load no
Firestore; only receipts load boto3 and the PDF library.
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
# function: (source, the module's builder its first request calls, what it may load)
FUNCTIONS = {
    "account_api": ("account_api", "api", {"google.cloud.firestore"}),
    "checkout_webhook": ("checkout_webhook", "webhooks", {"google.cloud.firestore"}),
    "renewal_tick": ("renewal_trigger", "tick", {"google.cloud.firestore"}),
    "renewal_charge": ("renewal_trigger", "worker", {"google.cloud.firestore"}),
    "receipt_email": ("receipt_email", "service", {"google.cloud.firestore", "boto3", "fpdf"}),
    "churn_export": ("churn_export", "flusher", {"google.cloud.bigquery"}),
    "feature_snapshot": ("churn_export", "", set()),  # builds its writer per run
}
PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("m", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
if sys.argv[2]:
    getattr(m, sys.argv[2])()
print(json.dumps(sorted(h for h in sys.argv[3:] if h in sys.modules)))
"""


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_a_function_loads_only_what_its_entry_point_uses(function: str) -> None:
    source, builder, allowed = FUNCTIONS[function]
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
        [sys.executable, "-c", PROBE, str(main), builder, *HEAVY],
        capture_output=True, text=True, check=False, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert loaded == allowed, f"{function} loads {sorted(loaded)}, expected {sorted(allowed)}"
