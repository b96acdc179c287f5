"""Bare stand-in for functions/account_api (bench/cold_start.py's fair baseline).

Served as ``main.py`` of a temporary ``account_api`` folder. No Refrain code: the same
framework and Firestore client and, on the first request, the same work as
GET /v1/me/entitlement with a Firebase Auth emulator token: the token's payload read
(the emulator's tokens are unsigned), one document read, ``entitlements/{uid}``.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from typing import Any

import flask
import functions_framework
from google.cloud import firestore

PROJECT = os.environ["GOOGLE_CLOUD_PROJECT"]


@functools.cache
def client() -> Any:
    return firestore.Client(project=PROJECT)


@functions_framework.http
def account_api(request: flask.Request) -> flask.Response:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    part = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    found = client().collection("entitlements").document(str(claims["sub"])).get()
    body = json.dumps({"has_access": found.exists})
    return flask.Response(body, 200, content_type="application/json")
