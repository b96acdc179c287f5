"""Provision and reset the running stack through the real client libraries."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from refrain.settings import CloudSettings
from refrain.topology import TOPOLOGY
from refrain_tools.stack.config import StackConfig

if TYPE_CHECKING:
    from refrain_tools.stack.manager import StackManager


@contextlib.contextmanager
def pointed_at(config: StackConfig) -> Iterator[CloudSettings]:
    """Settings (and process environment, which the libraries read) aimed at this stack."""
    env = config.client_environment()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield CloudSettings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def own_stack(port_base: int) -> Iterator[tuple[StackManager, CloudSettings]]:
    """A fresh local stack for one script (a benchmark), clients aimed at it; stopped after."""
    from refrain_tools.stack.manager import StackManager

    state_dir = Path(tempfile.mkdtemp(prefix="refrain-stack-")) / "stack"
    manager = StackManager(StackConfig(port_base=port_base, state_dir=state_dir))
    manager.up()
    try:
        with pointed_at(manager.config) as cloud:
            yield manager, cloud
    finally:
        manager.down()


def provision_everything(config: StackConfig, push_endpoints: Mapping[str, str]) -> None:
    from refrain.adapters.bigquery import build_bigquery, ensure_dataset
    from refrain.adapters.gcs_models import build_storage
    from refrain.adapters.pubsub import build_publisher, build_subscriber
    from refrain.adapters.ses_raw import build_raw_ses
    from refrain_tools.stack.provision import provision_pubsub

    with pointed_at(config) as settings:
        publisher, subscriber = build_publisher(settings), build_subscriber(settings)
        try:
            provision_pubsub(config.project, TOPOLOGY, publisher, subscriber, push_endpoints)
        finally:
            subscriber.close()
        bigquery = build_bigquery(settings)
        for dataset in TOPOLOGY.datasets:
            ensure_dataset(bigquery, dataset, settings.bigquery_location)
        bigquery.close()
        build_raw_ses(settings).create_email_identity(EmailIdentity=settings.mail_from)
        storage = build_storage(settings)
        if storage.lookup_bucket(config.model_bucket) is None:
            storage.create_bucket(config.model_bucket)


def reset_everything(config: StackConfig, push_endpoints: Mapping[str, str] | None = None) -> None:
    """Empty Firestore, Pub/Sub, BigQuery, SES, Cloud Storage and the Auth emulator's users,
    then provision the topology again."""
    from refrain.adapters.bigquery import build_bigquery
    from refrain.adapters.pubsub import build_publisher, build_subscriber
    from refrain_tools.stack.provision import wipe_pubsub

    base = f"http://{config.host}"
    requests.delete(
        f"{base}:{config.firestore_port}/emulator/v1/projects/{config.project}"
        "/databases/(default)/documents",
        timeout=30,
    ).raise_for_status()
    requests.post(f"{base}:{config.ses_port}/moto-api/reset", timeout=30).raise_for_status()
    requests.get(f"{base}:{config.storage_port}/wipe", timeout=30).raise_for_status()
    requests.delete(
        f"{base}:{config.auth_port}/emulator/v1/projects/{config.project}/accounts", timeout=30
    ).raise_for_status()
    with pointed_at(config) as settings:
        publisher, subscriber = build_publisher(settings), build_subscriber(settings)
        try:
            wipe_pubsub(config.project, publisher, subscriber)
        finally:
            subscriber.close()
        bigquery = build_bigquery(settings)
        for dataset in TOPOLOGY.datasets:
            bigquery.delete_dataset(
                f"{config.project}.{dataset.name}", delete_contents=True, not_found_ok=True
            )
        bigquery.close()
    provision_everything(config, push_endpoints or {})
