"""Ports, project and state directory of the local stack.

Defaults sit in 8601-8609, clear of each other, of functions-framework's 8080
and of the emulators' own defaults (8080/8085/9050), so a developer's other
tools keep working. Every port is overridable: REFRAIN_STACK_<NAME>_PORT, or
REFRAIN_STACK_PORT_BASE to move the whole block.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT_BASE = 8600


class StackConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFRAIN_STACK_", extra="ignore")

    project: str = "refrain-local"
    host: str = "127.0.0.1"
    port_base: int = DEFAULT_PORT_BASE
    firestore_port: int = 0
    pubsub_port: int = 0
    bigquery_port: int = 0
    bigquery_grpc_port: int = 0
    ses_port: int = 0
    auth_port: int = 0  # the Firebase Auth emulator
    auth_hub_port: int = 0  # firebase-tools' emulator hub and logging ports (unused, held)
    auth_logging_port: int = 0
    storage_port: int = 0  # Cloud Storage stand-in (gcp-storage-emulator): model artifacts
    model_bucket: str = "refrain-local-models"
    state_dir: Path = Field(default=Path(".refrain/stack"))
    start_timeout_s: float = 90.0

    @model_validator(mode="after")
    def _fill_ports(self) -> StackConfig:
        for offset, name in enumerate(
            (
                "firestore_port",
                "pubsub_port",
                "bigquery_port",
                "bigquery_grpc_port",
                "ses_port",
                "auth_port",
                "auth_hub_port",
                "auth_logging_port",
                "storage_port",
            ),
            start=1,
        ):
            if getattr(self, name) == 0:
                object.__setattr__(self, name, self.port_base + offset)
        object.__setattr__(self, "state_dir", self.state_dir.absolute())
        return self

    def client_environment(self) -> dict[str, str]:
        """The variables that point every client library at this stack."""
        return {
            "GOOGLE_CLOUD_PROJECT": self.project,
            "FIRESTORE_EMULATOR_HOST": f"{self.host}:{self.firestore_port}",
            "PUBSUB_EMULATOR_HOST": f"{self.host}:{self.pubsub_port}",
            "REFRAIN_BIGQUERY_ENDPOINT": f"http://{self.host}:{self.bigquery_port}",
            "REFRAIN_BIGQUERY_GRPC_ENDPOINT": f"{self.host}:{self.bigquery_grpc_port}",
            "REFRAIN_SES_ENDPOINT": f"http://{self.host}:{self.ses_port}",
            "FIREBASE_AUTH_EMULATOR_HOST": f"{self.host}:{self.auth_port}",
            "STORAGE_EMULATOR_HOST": f"http://{self.host}:{self.storage_port}",
            "REFRAIN_MODEL_BUCKET": self.model_bucket,
        }

    def firebase_json(self) -> dict[str, object]:
        """firebase-tools' configuration: the Auth emulator alone, on this stack's ports."""
        host = self.host
        return {"emulators": {
            "auth": {"host": host, "port": self.auth_port},
            "hub": {"host": host, "port": self.auth_hub_port},
            "logging": {"host": host, "port": self.auth_logging_port},
            "ui": {"enabled": False},
            "singleProjectMode": True,
        }}  # fmt: skip
