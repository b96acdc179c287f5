"""Terraform held to the configuration contract (refrain.config_contract).

Every setting each function reads is derived here from the settings models the
function's builders use (their environment aliases) and the few variables read
outside a model; `docs/CONFIGURATION.md` is generated from it (`refrain config
contract --write`, stale → a test fails). The checks: Terraform's environment and
secret mounts for each function cover what the contract always requires of it, and
set nothing it never reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from refrain.churn.flush import FLUSH_MAX_ENV
from refrain.churn.pseudonym import ENVIRONMENT_ENV, PEPPER_ENV
from refrain.config_contract import LOCAL_ONLY
from refrain.ingest.routes import WebhookSettings
from refrain.ingest.store_routes import StoreSettings
from refrain.invoicing.settings import ReceiptSettings
from refrain.renewals.settings import GatewaySettings
from refrain.settings import CloudSettings


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
        default = None if field.is_required() or field.default is None else str(field.default)
        found += [Setting(str(name), secret, default) for name in names if name]
    return found


_EXTRA = {
    "pepper": Setting(PEPPER_ENV, True, None),
    "environment": Setting(ENVIRONMENT_ENV, False, None),
    "flush": Setting(FLUSH_MAX_ENV, False, "5000"),
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
    "checkout_webhook": (_WEBHOOK, ()),
    "outbox_sweep": (_WEBHOOK, ()),  # sweeps parked events through the webhook's routes
    "renewal_tick": (((CloudSettings, _CLOUD),), ()),
    "renewal_charge": (((CloudSettings, _CLOUD), (GatewaySettings, None)), ()),
    "receipt_email": (
        (
            (CloudSettings, (*_CLOUD, "ses_endpoint", "ses_region", "mail_from")),
            (ReceiptSettings, None),
        ),
        ("pdf_font", "aws_key_id", "aws_secret"),
    ),
    "churn_export": (_CHURN, ("pepper", "environment", "flush")),
    "feature_snapshot": (_CHURN, ("pepper", "environment")),
}


def settings_read(function: str) -> dict[str, Setting]:
    """name → setting, for everything ``function`` reads from its environment."""
    models, extras = _READERS[function]
    found = [s for model, fields in models for s in _model_settings(model, fields)]
    found += [_EXTRA[key] for key in extras]
    return {s.name: s for s in found if s.name not in LOCAL_ONLY}
