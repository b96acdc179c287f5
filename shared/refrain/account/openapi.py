"""The account API's OpenAPI 3.1 document, generated from the routes and pydantic models.

Checked in at ``docs/openapi/account_api.json``; ``.venv/bin/python -m
refrain.account.openapi`` regenerates it and a unit test (tests/unit/account/test_openapi.py)
fails when the committed copy is stale. pydantic's JSON Schema is draft 2020-12,
which is what OpenAPI 3.1 uses, so the schemas go in as they are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from refrain.account import problems as p
from refrain.account.auth import ACCOUNT_HEADER
from refrain.account.documents import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from refrain.account.models import ProblemOut
from refrain.account.route_table import IDEMPOTENCY_HEADER, PREVIEW_ANSWER, ROUTES, Route

DOCUMENT = Path("docs") / "openapi" / "account_api.json"
_REF = "#/components/schemas/{model}"


def _problem(*types: p.ProblemType) -> dict[str, Any]:
    listed = ", ".join(t.uri for t in types)
    return {
        "description": f"Problem details (`type`: {listed})",
        "content": {"application/problem+json": {"schema": {"$ref": _ref(ProblemOut)}}},
    }


def _ref(model: type[BaseModel]) -> str:
    return _REF.format(model=model.__name__)


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _ref(model)}}}


def _operation(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    content: dict[str, Any]
    if route.answer is None:  # a file: the PDF
        content = {route.media: {"schema": {"type": "string", "contentMediaType": route.media}}}
    elif route.name == "change-plan":
        content = {"application/json": {"schema": {"oneOf": [
            {"$ref": _ref(route.answer)}, {"$ref": _ref(PREVIEW_ANSWER)}]}}}  # fmt: skip
    else:
        content = _json(route.answer)
    responses["200"] = {"description": route.summary, "content": content}
    responses["401"] = _problem(p.UNAUTHENTICATED)
    responses["403"] = _problem(p.FORBIDDEN_ORIGIN)
    if route.query:
        responses["400"] = _problem(p.BAD_REQUEST)
    if "{number}" in route.template:
        responses["404"] = _problem(p.NOT_FOUND)
    if route.body is not None:
        responses["400"] = _problem(p.BAD_REQUEST)
        if "{" in route.template:
            responses["404"] = _problem(p.NOT_FOUND)
        responses["409"] = _problem(p.ERASURE_BLOCKED if route.name == "erasure" else p.CONFLICT)
        responses["413"] = _problem(p.TOO_LARGE)
        responses["415"] = _problem(p.UNSUPPORTED_MEDIA)
        responses["422"] = _problem(p.IDEMPOTENCY_MISMATCH, p.UNPROCESSABLE)
        responses["428"] = _problem(p.IDEMPOTENCY_KEY_REQUIRED)
    if route.name == "payment-method-session":
        responses["409"] = _problem(p.MANAGED_BY_PROVIDER, p.CONFLICT)
        responses["422"] = _problem(p.IDEMPOTENCY_MISMATCH, p.CARD_SETUP_REFUSED)
    responses["429"] = _problem(p.RATE_LIMITED)
    responses["503"] = _problem(p.UNAVAILABLE)
    op: dict[str, Any] = {
        "operationId": route.name.replace("-", "_"),
        "summary": route.summary,
        "responses": responses,
    }
    params: list[dict[str, Any]] = []
    if "{subscription_id}" in route.template:
        params.append({"name": "subscription_id", "in": "path", "required": True,
                       "schema": {"type": "string", "maxLength": 200}})  # fmt: skip
    if "{number}" in route.template:
        params.append({"name": "number", "in": "path", "required": True,
                       "description": "The invoice or credit note number, e.g. SE3-000042",
                       "schema": {"type": "string", "maxLength": 64}})  # fmt: skip
    params += [_QUERY[name] for name in route.query]
    if route.needs_key:
        params.append({
            "name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
            "description": ("Required unless previewing" if route.name == "change-plan"
                            else "Required") + ": the same key answers the same, applied "
                           "once; with a different body, 422.",
            "schema": {"type": "string", "minLength": 8, "maxLength": 255},
        })  # fmt: skip
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": False, "content": _json(route.body)}
    return op


_QUERY: dict[str, dict[str, Any]] = {
    "page_token": {"name": "page_token", "in": "query", "required": False,
                   "description": "next_page_token of the previous page",
                   "schema": {"type": "string", "maxLength": 600}},
    "page_size": {"name": "page_size", "in": "query", "required": False,
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                             "default": DEFAULT_PAGE_SIZE}},
    "lang": {"name": "lang", "in": "query", "required": False,
             "description": "A language tag (sv, pt-BR, de-CH); the receipts' languages, "
                            "anything else reads English",
             "schema": {"type": "string", "maxLength": 35}},
    "subscription": {"name": "subscription", "in": "query", "required": False,
                     "description": "With plan: preview changing this subscription",
                     "schema": {"type": "string", "maxLength": 200}},
    "plan": {"name": "plan", "in": "query", "required": False,
             "description": "With subscription: the plan to preview",
             "schema": {"type": "string", "maxLength": 64}},
}  # fmt: skip


def document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [ProblemOut, PREVIEW_ANSWER]
    for route in ROUTES:
        models += [m for m in (route.body, route.answer) if m is not None]
    unique = list(dict.fromkeys(models))
    bodies = {r.body for r in ROUTES}
    modes = [(m, "validation" if m in bodies else "serialization") for m in unique]
    _, schemas = models_json_schema(modes, ref_template=_REF)  # type: ignore[arg-type]
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Refrain account API",
            "version": "1",
            "description": "The subscriber's side: entitlement, subscriptions, care "
            "actions, invoices and the data export of their own account. Errors are "
            "RFC 9457 problem details.",
        },
        "servers": [{"url": "/"}],
        "security": [{"firebase": []}, {"service": []}],
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "firebase": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                             "description": "A Firebase Authentication ID token; the account "
                             "is its uid."},
                "service": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                            "description": "A Google OIDC token of an allowed service account, "
                            f"with the account in {ACCOUNT_HEADER}."},
            },
        },
        "paths": paths,
    }  # fmt: skip


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else DOCUMENT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
