"""Terraform held to the configuration contract (refrain.config_contract).

Every setting each function reads is derived here from the settings models the
function's builders use (their environment aliases) and the few variables read
outside a model; `docs/CONFIGURATION.md` is generated from it (`refrain config
contract --write`, stale → a test fails). The checks: Terraform's environment and
secret mounts for each function cover what the contract always requires of it, and
set nothing it never reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from refrain.account.settings import AccountSettings
from refrain.churn.flush import DEFAULT_FLUSH_MAX, FLUSH_MAX_ENV
from refrain.churn.pseudonym import ENVIRONMENT_ENV, PEPPER_ENV
from refrain.config_contract import ALWAYS_REQUIRED, LOCAL_ONLY, PLATFORM, problems
from refrain.ingest.routes import WebhookSettings
from refrain.ingest.store_routes import StoreSettings
from refrain.invoicing.settings import ReceiptSettings
from refrain.renewals.settings import GatewaySettings
from refrain.settings import CloudSettings
from refrain.topology import TOPOLOGY
from refrain_tools.infra.hclcheck import load_tree


@dataclass(frozen=True)
class Setting:
    name: str
    secret: bool
    default: str | None  # what an unset variable means; None: nothing


def _model_settings(model: type[BaseSettings], fields: tuple[str, ...] | None) -> list[Setting]:
    found = []
    for key, field in model.model_fields.items():
        if fields is not None and key not in fields:
            continue
        alias = field.validation_alias
        names = getattr(alias, "choices", None) or [alias]
        secret = SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
        value = None if field.is_required() else field.get_default(call_default_factory=True)
        default = None if value is None else json.dumps(value, default=str)
        found += [Setting(str(name), secret, default) for name in names if name]
    return found


_EXTRA = {
    "pepper": Setting(PEPPER_ENV, True, None),
    "environment": Setting(ENVIRONMENT_ENV, False, None),
    "flush": Setting(FLUSH_MAX_ENV, False, str(DEFAULT_FLUSH_MAX)),
    "pdf_font": Setting("REFRAIN_PDF_FONT", False, None),
    # boto3 reads these itself (SES); see docs/OPERATIONS.md for the key's scope.
    "aws_key_id": Setting("AWS_ACCESS_KEY_ID", True, None),
    "aws_secret": Setting("AWS_SECRET_ACCESS_KEY", True, None),
}

# CloudSettings serves every builder; each function reads only some of its fields.
_CLOUD = (
    "project",
    "firestore_emulator_host",
    "pubsub_emulator_host",
    "firestore_deadline_s",
    "publish_timeout_s",
)
_Reader = tuple[type[BaseSettings], tuple[str, ...] | None]
_WEBHOOK: tuple[_Reader, ...] = (
    (CloudSettings, _CLOUD),
    (WebhookSettings, None),
    (StoreSettings, None),
)
_CHURN: tuple[_Reader, ...] = (
    (CloudSettings, (*_CLOUD, "bigquery_endpoint", "bigquery_location")),
)
_READERS: dict[str, tuple[tuple[_Reader, ...], tuple[str, ...]]] = {
    "account_api": (
        (
            (CloudSettings, _CLOUD),
            (AccountSettings, None),
            (
                GatewaySettings,
                (
                    "stripe_api_key",
                    "stripe_api_base",
                    "adyen_api_key",
                    "adyen_merchant_account",
                    "adyen_checkout_url",
                    "adyen_environment",
                    "adyen_live_prefix",
                ),
            ),
        ),
        (),
    ),
    "checkout_webhook": (_WEBHOOK, ()),
    "outbox_sweep": (_WEBHOOK, ()),  # sweeps parked events through the webhook's routes
    "renewal_tick": (((CloudSettings, _CLOUD),), ()),
    "renewal_charge": (
        ((CloudSettings, _CLOUD), (GatewaySettings, None)),
        ("pepper", "environment"),
    ),
    "receipt_email": (
        (
            (CloudSettings, (*_CLOUD, "ses_endpoint", "ses_region", "mail_from")),
            (ReceiptSettings, None),
        ),
        ("pdf_font", "aws_key_id", "aws_secret"),
    ),
    "churn_export": (_CHURN, ("pepper", "environment", "flush")),
    "feature_snapshot": (_CHURN, ()),  # BigQuery to BigQuery: no pepper, no Firestore
}


def settings_read(function: str) -> dict[str, Setting]:
    """name → setting, for everything ``function`` reads from its environment."""
    models, extras = _READERS[function]
    found = [s for model, fields in models for s in _model_settings(model, fields)]
    found += [_EXTRA[key] for key in extras]
    return {s.name: s for s in found if s.name not in LOCAL_ONLY}


# -- Terraform against the contract ----------------------------------------------------

DOC = Path("docs") / "CONFIGURATION.md"
_NAME = re.compile(r'"([A-Z][A-Z0-9_]+)"')
# Values that pass the contract's own checks, for names whose Terraform value is an
# expression this check does not evaluate (every provider on, as in prod.tfvars).
_SAMPLE = {"ADYEN_ENVIRONMENT": "live", "APPLE_ENVIRONMENT": "Production",
           PEPPER_ENV: "x" * 32}  # fmt: skip


def _names(value: Any, locals_: dict[str, Any]) -> list[str]:
    """Names in a list literal, a `${local.x}` reference to one, or a concat() of them."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value)
    ref = re.fullmatch(r"\$\{local\.(\w+)\}", text)
    if ref:
        return _names(locals_.get(ref.group(1), []), locals_)
    return _NAME.findall(text)


def terraform_config(root: Path) -> dict[str, tuple[set[str], set[str]]]:
    """function → (environment names, secret names) Terraform gives it, every provider on."""
    top = load_tree(root)[""]
    settings = top.locals.get("function_settings") or {}
    return {
        fn: (set(_names(conf.get("env", []), top.locals)),
             set(_names(conf.get("secrets", []), top.locals)))
        for fn, conf in settings.items()
    }  # fmt: skip


def cloud_environment(root: Path, function: str) -> dict[str, str]:
    """The environment Terraform gives ``function`` with every provider on: its literal
    values, and placeholders that pass the contract where the value is an expression."""
    settings = load_tree(root)[""].locals.get("settings") or {}
    env, secrets = terraform_config(root).get(function, (set(), set()))
    sample = {name: _SAMPLE.get(name, "x") for name in env | secrets}
    literal = {k: v for k, v in settings.items() if isinstance(v, str) and "${" not in v}
    sample.update({k: v for k, v in literal.items() if k in env})
    return sample


def check_config_contract(root: Path) -> list[str]:
    """Terraform gives each function what the contract requires and nothing it never reads;
    secrets only as secret mounts; every setting Terraform defines is given to someone."""
    found: list[str] = []
    top = load_tree(root)[""]
    given = terraform_config(root)
    defined = set((top.locals.get("settings") or {}).keys())
    for fn in (f.name for f in TOPOLOGY.functions):
        env, secrets = given.get(fn, (set(), set()))
        reads = settings_read(fn)
        for name in sorted((env | secrets) - set(reads) - PLATFORM):
            found.append(f"{fn}: Terraform sets {name}, which it never reads")
        for name in sorted(env):
            if name in reads and reads[name].secret:
                found.append(f"{fn}: {name} is a secret but Terraform sets it in plain environment")
            if name not in defined:
                found.append(f"{fn}: {name} has no value in local.settings")
        for name in ALWAYS_REQUIRED[fn]:
            if name not in env | secrets:
                found.append(f"{fn}: requires {name}, which Terraform does not give it")
        sample = cloud_environment(root, fn)
        found += [f"{fn}: with every provider on, {p}" for p in problems(fn, sample)]
    used = set().union(*(env for env, _ in given.values())) if given else set()
    found += [f"local.settings.{name} is given to no function" for name in sorted(defined - used)]
    return found


def render_markdown() -> str:
    """docs/CONFIGURATION.md: what each function reads, secret or not, and where required."""
    lines = [
        "# Configuration",
        "",
        "Generated from the settings models by `.venv/bin/python scripts/gen_tf_schemas.py`;",
        "do not edit. Each function reads these environment variables. **required**: the",
        "function refuses to start in the cloud without it (`refrain.config_contract`);",
        "*conditional*: required when the provider it belongs to is configured (see the",
        "rules in `refrain.config_contract`); otherwise optional, with the default shown.",
        "Terraform sets them from its variables (`terraform/functions.tf`, `local.settings`);",
        "secrets are Secret Manager mounts. Local-stack-only variables are refused in the",
        f"cloud: {', '.join(f'`{n}`' for n in sorted(LOCAL_ONLY))}.",
    ]
    conditional = _conditional_names()
    for fn in (f.name for f in TOPOLOGY.functions):
        lines += [
            "",
            f"## {fn}",
            "",
            "| variable | secret | required | default |",
            "|---|---|---|---|",
        ]
        for name, setting in sorted(settings_read(fn).items()):
            need = ("**required**" if name in ALWAYS_REQUIRED[fn]
                    else "*conditional*" if name in conditional.get(fn, set()) else "")  # fmt: skip
            default = "" if setting.default is None else f"`{setting.default}`"
            lines.append(f"| `{name}` | {'yes' if setting.secret else ''} | {need} | {default} |")
    return "\n".join(lines) + "\n"


def _conditional_names() -> dict[str, set[str]]:
    """Names a rule asks for once something else is set: found by asking the rules."""
    found: dict[str, set[str]] = {}
    for fn in (f.name for f in TOPOLOGY.functions):
        reads = set(settings_read(fn))
        full = {name: _SAMPLE.get(name, "x") for name in reads | set(ALWAYS_REQUIRED[fn])}
        full["REFRAIN_PAYMENT_GATEWAY"] = "providers"
        full["APPLE_ROOT_CERTS"] = ""
        for name in reads:
            if problems(fn, {k: v for k, v in full.items() if k != name}):
                found.setdefault(fn, set()).add(name)
    return found
