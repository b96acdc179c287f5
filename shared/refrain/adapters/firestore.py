"""Firestore client from settings; emulator selection is the library's own."""

from __future__ import annotations

from google.cloud import firestore

from refrain.settings import CloudSettings


def build_firestore(settings: CloudSettings) -> firestore.Client:
    # With FIRESTORE_EMULATOR_HOST set the library uses anonymous credentials itself.
    return firestore.Client(project=settings.project)
