from __future__ import annotations

from pathlib import Path

import pytest

from refrain_tools.stack import prerequisites
from refrain_tools.stack.config import StackConfig


def test_ports_follow_the_base_and_do_not_collide() -> None:
    config = StackConfig(port_base=9100)
    ports = [
        config.firestore_port,
        config.pubsub_port,
        config.bigquery_port,
        config.bigquery_grpc_port,
        config.ses_port,
    ]
    assert ports == [9101, 9102, 9103, 9104, 9105]
    assert 8080 not in StackConfig().model_dump().values()


def test_single_port_override_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFRAIN_STACK_PUBSUB_PORT", "9999")
    config = StackConfig()
    assert config.pubsub_port == 9999
    assert config.client_environment()["PUBSUB_EMULATOR_HOST"].endswith(":9999")


def test_missing_emulators_say_exactly_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(prerequisites, "_sdk_roots", lambda: [tmp_path])
    with pytest.raises(prerequisites.MissingPrerequisite) as err:
        prerequisites.find_emulators()
    message = str(err.value)
    assert "gcloud components install cloud-firestore-emulator pubsub-emulator" in message
    assert "Firestore emulator" in message and "Pub/Sub emulator" in message


def test_missing_java_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("refrain_tools.stack.prerequisites.shutil.which", lambda name: None)
    with pytest.raises(prerequisites.MissingPrerequisite, match="Java 17"):
        prerequisites.find_emulators()


def test_cloud_storage_stand_in_has_its_port_and_the_standard_variable() -> None:
    config = StackConfig(port_base=9100)
    assert config.storage_port == 9109
    env = config.client_environment()
    assert env["STORAGE_EMULATOR_HOST"] == "http://127.0.0.1:9109"
    assert env["REFRAIN_MODEL_BUCKET"] == config.model_bucket
    assert len(set(v for k, v in config.model_dump().items() if k.endswith("_port"))) == 9
