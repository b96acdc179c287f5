"""The checked-in OpenAPI document is the one the routes and models generate."""

from __future__ import annotations

import json

from refrain.account import openapi
from refrain.account.problems import PROBLEMS
from refrain.account.routes import ROUTES
from tests.support import ROOT


def test_the_checked_in_openapi_document_is_current() -> None:
    committed = (ROOT / openapi.DOCUMENT).read_text(encoding="utf-8")
    assert committed == openapi.render(), (
        "docs/openapi/account_api.json is stale: run .venv/bin/python -m refrain.account.openapi"
    )


def test_it_is_openapi_3_1_with_every_route_and_stable_problem_types() -> None:
    doc = json.loads(openapi.render())
    assert doc["openapi"] == "3.1.0"
    assert {(r.template, r.method.lower()) for r in ROUTES} == {
        (path, method) for path, ops in doc["paths"].items() for method in ops
    }
    assert {"EntitlementOut", "ProblemOut", "ChangePlanIn", "PreviewOut"} <= set(
        doc["components"]["schemas"]
    )
    assert len({p.uri for p in PROBLEMS}) == len(PROBLEMS)
    assert all(p.uri.startswith("https://refrain.dev/problems/") for p in PROBLEMS)
