"""What each function cannot run without in the cloud: refused at start, by name.

Each function's ``main.py`` calls ``refuse_incomplete`` when it is imported, so a
missing setting stops the instance at start with one error that names it, instead
of the first renewal charging a sandbox that declines every real card or the first
store notification being refused. With the local stack (emulator hosts set) nothing
is required: the sandbox and local defaults are for it alone, and what only the
local stack may set (``LOCAL_ONLY``) is refused in the cloud.

Which settings each function reads, derived from the settings models, and the check
that Terraform gives each function what this module requires and nothing it never
reads: refrain_tools.infra.configcheck (docs/CONFIGURATION.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from refrain.churn.pseudonym import ENVIRONMENT_ENV, MIN_PEPPER_BYTES, PEPPER_ENV
from refrain.clocks import CLOCK_FILE_ENV
from refrain.topology import TOPOLOGY

Env = Mapping[str, str]


# Read by the runtime itself: functions-framework logs, Cloud Run's target name.
PLATFORM = frozenset({"LOG_EXECUTION_ID", "FUNCTION_TARGET", "K_SERVICE", "PORT"})
# Local stack only: never in the cloud.
LOCAL_ONLY = frozenset(
    {
        "FIRESTORE_EMULATOR_HOST",
        "PUBSUB_EMULATOR_HOST",
        "REFRAIN_BIGQUERY_ENDPOINT",
        "REFRAIN_SES_ENDPOINT",
        CLOCK_FILE_ENV,
        "STRIPE_API_BASE",
        "ADYEN_CHECKOUT_URL",
        "GOOGLE_PLAY_PUSH_CERTS_URL",
        "GOOGLE_PLAY_API_BASE_URL",
        "GOOGLE_PLAY_API_ANONYMOUS",
        "FIREBASE_AUTH_EMULATOR_HOST",  # its tokens are unsigned (refrain.account.auth)
        "REFRAIN_FIREBASE_CERTS_URL",
        "REFRAIN_ACCOUNT_SERVICE_CERTS_URL",
    }
)


class IncompleteConfiguration(RuntimeError):
    """A setting the function cannot run without in the cloud is missing or wrong."""


def _missing(env: Env, *names: str) -> list[str]:
    return [f"{name} is required" for name in names if not env.get(name, "").strip()]


def _everyone(env: Env) -> list[str]:
    problems = _missing(env, "GOOGLE_CLOUD_PROJECT")
    problems += [
        f"{name} is for the local stack only" for name in sorted(LOCAL_ONLY) if name in env
    ]
    return problems


def _webhook(env: Env) -> list[str]:
    providers = (
        "STRIPE_WEBHOOK_SECRET",
        "ADYEN_HMAC_KEY",
        "GOOGLE_PLAY_PACKAGE_NAMES",
        "APPLE_BUNDLE_ID",
    )
    if not any(env.get(name) for name in providers):
        return [f"one of {', '.join(providers)} is required (no provider could reach us)"]
    problems = []
    if env.get("ADYEN_HMAC_KEY"):
        problems += _missing(env, "ADYEN_BASIC_AUTH_USER", "ADYEN_BASIC_AUTH_PASSWORD")
    if env.get("GOOGLE_PLAY_PACKAGE_NAMES"):
        problems += _missing(
            env,
            "GOOGLE_PLAY_PUSH_AUDIENCE",
            "GOOGLE_PLAY_PUSH_SERVICE_ACCOUNT",
            "GOOGLE_PLAY_PRODUCT_PLANS",
        )
    if env.get("APPLE_BUNDLE_ID"):
        problems += _missing(env, "APPLE_ENVIRONMENT")  # roots: Apple's, packaged, if unset
        missing_files = [
            p
            for p in env.get("APPLE_ROOT_CERTS", "").split(",")
            if p.strip() and not Path(p.strip()).is_file()
        ]
        problems += [
            f"APPLE_ROOT_CERTS names {p.strip()!r}, which is not a file" for p in missing_files
        ]
        if env.get("APPLE_ENVIRONMENT") == "Production":
            problems += _missing(env, "APPLE_APP_APPLE_ID")
    return problems


def _renewal_charge(env: Env) -> list[str]:
    mode = env.get("REFRAIN_PAYMENT_GATEWAY", "")
    if mode != "providers":
        return [
            f"REFRAIN_PAYMENT_GATEWAY must be 'providers' in the cloud (got {mode!r}; "
            "the sandbox declines every real card and runs with the local stack only)"
        ]
    if not (env.get("STRIPE_API_KEY") or env.get("ADYEN_API_KEY")):
        return ["STRIPE_API_KEY or ADYEN_API_KEY is required (renewals charge through them)"]
    problems = _pepper(env)  # the dunning experiment's unit is the subscriber key
    if env.get("ADYEN_API_KEY"):
        problems += _missing(env, "ADYEN_MERCHANT_ACCOUNT", "ADYEN_ENVIRONMENT")
        platform = env.get("ADYEN_ENVIRONMENT", "")
        if platform and platform not in ("test", "live"):
            problems.append(f"ADYEN_ENVIRONMENT must be 'test' or 'live' (got {platform!r})")
        if platform == "live":
            problems += _missing(env, "ADYEN_LIVE_PREFIX")
    return problems


def _receipts(env: Env) -> list[str]:
    return _missing(env, "REFRAIN_MAIL_FROM", "REFRAIN_SES_REGION", "REFRAIN_ACCOUNT_URL")


def _pepper(env: Env) -> list[str]:
    problems = _missing(env, PEPPER_ENV)
    if env.get(PEPPER_ENV) and len(env[PEPPER_ENV].encode()) < MIN_PEPPER_BYTES:
        problems.append(f"{PEPPER_ENV} must be at least {MIN_PEPPER_BYTES} bytes")
    return problems


def _account(env: Env) -> list[str]:
    problems = []
    if env.get("REFRAIN_ACCOUNT_SERVICE_ACCOUNTS", "").strip():
        problems += _missing(env, "REFRAIN_ACCOUNT_SERVICE_AUDIENCE")
    # Card-update sessions (POST /v1/me/payment-method/session) at the providers we charge.
    if not (env.get("STRIPE_API_KEY") or env.get("ADYEN_API_KEY")):
        problems.append("STRIPE_API_KEY or ADYEN_API_KEY is required (card-update sessions)")
    if env.get("ADYEN_API_KEY"):
        problems += _missing(env, "ADYEN_MERCHANT_ACCOUNT", "ADYEN_ENVIRONMENT",
                             "REFRAIN_ACCOUNT_URL")  # fmt: skip
        if env.get("ADYEN_ENVIRONMENT") == "live":
            problems += _missing(env, "ADYEN_LIVE_PREFIX")
    return problems


_RULES: dict[str, Callable[[Env], list[str]]] = {
    "account_api": _account,
    "checkout_webhook": _webhook,
    "outbox_sweep": _webhook,
    "renewal_tick": lambda env: [],
    "renewal_charge": _renewal_charge,
    "receipt_email": _receipts,
    "churn_export": _pepper,
    "feature_snapshot": lambda env: [],  # BigQuery to BigQuery
}

# What each function needs set in the cloud in every deployment (the rules above may
# ask for more, depending on which providers are configured).
ALWAYS_REQUIRED = {
    "account_api": ("GOOGLE_CLOUD_PROJECT",),
    "checkout_webhook": ("GOOGLE_CLOUD_PROJECT",),
    "outbox_sweep": ("GOOGLE_CLOUD_PROJECT",),
    "renewal_tick": ("GOOGLE_CLOUD_PROJECT",),
    "renewal_charge": ("GOOGLE_CLOUD_PROJECT", "REFRAIN_PAYMENT_GATEWAY", PEPPER_ENV),
    "receipt_email": (
        "GOOGLE_CLOUD_PROJECT",
        "REFRAIN_MAIL_FROM",
        "REFRAIN_SES_REGION",
        "REFRAIN_ACCOUNT_URL",
    ),
    "churn_export": ("GOOGLE_CLOUD_PROJECT", PEPPER_ENV),
    "feature_snapshot": ("GOOGLE_CLOUD_PROJECT",),
}


def problems(function: str, env: Env) -> list[str]:
    """What stops ``function`` from running in the cloud with ``env`` (empty: nothing)."""
    return _everyone(env) + _RULES[function](env)


TEST_ENVIRONMENTS = frozenset({"local", "test"})


def is_local(env: Env) -> bool:
    """The local stack (emulators) or a test run (REFRAIN_ENVIRONMENT=local|test, which
    Terraform never sets: refrain_tools.infra.hclcheck)."""
    emulated = env.get("FIRESTORE_EMULATOR_HOST") or env.get("PUBSUB_EMULATOR_HOST")
    return bool(emulated) or env.get(ENVIRONMENT_ENV, "").lower() in TEST_ENVIRONMENTS


def refuse_incomplete(source: str, env: Env | None = None) -> None:
    """At import of ``functions/<source>/main.py``: stop in the cloud if a setting is missing.

    The function served is ``FUNCTION_TARGET`` (set by Cloud Run functions); without
    it, every function built from this source is checked.
    """
    env = os.environ if env is None else env
    if is_local(env):
        return
    target = env.get("FUNCTION_TARGET")
    functions = [
        f.name
        for f in TOPOLOGY.functions
        if f.source == source and (not target or f.entry_point == target)
    ]
    for function in functions:
        found = problems(function, env)
        if found:
            raise IncompleteConfiguration(f"{function}: {found[0]}")
