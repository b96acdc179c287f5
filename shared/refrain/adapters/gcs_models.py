"""Model artifacts in Cloud Storage: ``gs://<bucket>/<model>/v<N>/{model.json,metadata.json}``.

``metadata.json`` (training window, metrics, ``sha256`` of ``model.json``) is written
after ``model.json``, so a version exists once its metadata does; both are created with
``if_generation_match=0``, so a published version is never overwritten. Loading reads
the metadata, then the model, and refuses bytes whose sha256 differs
(:class:`~refrain.dunning_model.ArtifactError`). A loaded model is cached per
(bucket, model, version) for the life of the instance: a function pays for the
download once, on first use, not at import.

Locally the real client talks to the stack's Cloud Storage stand-in through the
standard ``STORAGE_EMULATOR_HOST``; the bucket comes from ``REFRAIN_MODEL_BUCKET``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any, Final

from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage  # type: ignore[attr-defined]

from refrain.dunning_model.artifact import ArtifactError, DunningModel, load_model
from refrain.settings import CloudSettings

__all__ = ["MODEL_BUCKET_ENV", "GcsModelStore", "build_storage"]

MODEL_BUCKET_ENV: Final = "REFRAIN_MODEL_BUCKET"
_VERSION: Final = re.compile(r"/v(\d+)/$")
_CACHE: dict[tuple[str, str, int], DunningModel] = {}
_LOCK = threading.Lock()


def build_storage(settings: CloudSettings) -> storage.Client:
    """The real client; anonymous against the emulator named by STORAGE_EMULATOR_HOST."""
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        return storage.Client(
            project=settings.project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": emulator},
        )
    return storage.Client(project=settings.project)


class GcsModelStore:
    """Versions of one model in one bucket: publish (tooling), list, load and verify."""

    def __init__(self, client: storage.Client, bucket: str, model: str = "dunning") -> None:
        if not bucket:
            raise ValueError(f"no model bucket: set {MODEL_BUCKET_ENV}")
        self._client, self.bucket, self.model = client, bucket, model

    def uri(self, version: int, name: str = "model.json") -> str:
        return f"gs://{self.bucket}/{self._path(version, name)}"

    def versions(self) -> list[int]:
        """Published versions (those with metadata), ascending."""
        pages = self._client.list_blobs(self.bucket, prefix=f"{self.model}/v", delimiter="/")
        list(pages)  # prefixes fill in as pages are read
        found = [int(m.group(1)) for p in pages.prefixes if (m := _VERSION.search(p))]
        bucket = self._client.bucket(self.bucket)
        return sorted(v for v in found if bucket.blob(self._path(v, "metadata.json")).exists())

    def metadata(self, version: int) -> dict[str, Any]:
        raw = self._read(self._path(version, "metadata.json"))
        try:
            meta = json.loads(raw)
        except ValueError as exc:
            raise ArtifactError(f"{self.uri(version, 'metadata.json')} is not JSON") from exc
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
            raise ArtifactError(f"{self.uri(version, 'metadata.json')} names no sha256")
        return meta

    def load(self, version: int | None = None) -> DunningModel:
        """The given (default: latest) version, verified; cached after the first call."""
        if version is None:
            published = self.versions()
            if not published:
                raise ArtifactError(f"no {self.model} model published in gs://{self.bucket}")
            version = published[-1]
        key = (self.bucket, self.model, version)
        with _LOCK:
            if key not in _CACHE:
                meta = self.metadata(version)
                data = self._read(self._path(version, "model.json"))
                model = load_model(data, expected_sha256=meta["sha256"])
                if model.version != version:
                    raise ArtifactError(
                        f"{self.uri(version)} says version {model.version}, not {version}"
                    )
                _CACHE[key] = model
            return _CACHE[key]

    def publish(self, model_json: bytes, metadata: dict[str, Any], version: int) -> str:
        """Write a new version (model, then metadata); refuses to overwrite one.

        Cloud Storage enforces ``if_generation_match=0`` atomically; the stand-in does
        not, hence the explicit check first.
        """
        bucket = self._client.bucket(self.bucket)
        if bucket.blob(self._path(version, "model.json")).exists():
            raise ArtifactError(f"{self.uri(version)} exists: versions are never overwritten")
        bucket.blob(self._path(version, "model.json")).upload_from_string(
            model_json, content_type="application/json", if_generation_match=0
        )
        bucket.blob(self._path(version, "metadata.json")).upload_from_string(
            json.dumps(metadata, indent=2, sort_keys=True).encode(),
            content_type="application/json",
            if_generation_match=0,
        )
        return self.uri(version)

    def _path(self, version: int, name: str) -> str:
        return f"{self.model}/v{version}/{name}"

    def _read(self, path: str) -> bytes:
        try:
            data: bytes = self._client.bucket(self.bucket).blob(path).download_as_bytes()
        except NotFound as exc:
            raise ArtifactError(f"gs://{self.bucket}/{path} does not exist") from exc
        return data
