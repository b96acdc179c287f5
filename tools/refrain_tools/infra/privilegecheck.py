"""Least privilege, derived from the code: the project roles each function's adapters need.

For each deployed function, the entry point in its ``main.py`` is followed through the
module's own helpers to the composition root's builders it calls (``bootstrap.X``), and
each builder through the builders it calls in turn, collecting the adapters it
imports from ``refrain.adapters``. An adapter says what it needs (``NEEDS``); the
roles follow. Terraform's ``project_roles`` for the function must be exactly those:
a role the code never uses is a finding, and so is one it needs but lacks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from refrain.topology import TOPOLOGY
from refrain_tools.infra.hclcheck import load_tree

# What an adapter does with Google Cloud; adapters not named here need no project role
# (Pub/Sub topics and subscriptions are granted per resource; Stripe, Adyen, SES and the
# Play API are not Google Cloud roles).
FIRESTORE_READERS = frozenset({"FirestoreDueSource"})
BIGQUERY = frozenset({"build_bigquery", "SignalWriter", "SnapshotWriter"})


def roles_for(adapters: set[str]) -> set[str]:
    """Project roles that the given adapters need."""
    firestore = {a for a in adapters if a.startswith("Firestore")}
    roles: set[str] = set()
    if firestore - FIRESTORE_READERS:
        roles.add("roles/datastore.user")
    elif firestore:
        roles.add("roles/datastore.viewer")
    if adapters & BIGQUERY:
        roles.add("roles/bigquery.jobUser")
    return roles


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _called(node: ast.AST) -> Iterator[str]:
    """Names of plain calls, and of ``bootstrap.X`` attributes, inside ``node``."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
            yield sub.func.id
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == "bootstrap"
        ):
            yield f"bootstrap.{sub.attr}"


def builders_of(main: Path, entry_point: str) -> set[str]:
    """The composition root's builders an entry point reaches, through the module's helpers."""
    own = _functions(ast.parse(main.read_text(encoding="utf-8")))
    seen: set[str] = set()
    builders: set[str] = set()
    todo = [entry_point]
    while todo:
        name = todo.pop()
        if name in seen or name not in own:
            continue
        seen.add(name)
        for called in _called(own[name]):
            if called.startswith("bootstrap."):
                builders.add(called.removeprefix("bootstrap."))
            else:
                todo.append(called)
    return builders


def adapters_of(bootstrap: Path, builders: set[str]) -> set[str]:
    """Names a set of builders imports from ``refrain.adapters``, following their calls.

    ``bootstrap``: the composition root, a module or a package of modules.
    """
    sources = sorted(bootstrap.glob("*.py")) if bootstrap.is_dir() else [bootstrap]
    own: dict[str, ast.FunctionDef] = {}
    for source in sources:
        own.update(_functions(ast.parse(source.read_text(encoding="utf-8"))))
    seen: set[str] = set()
    found: set[str] = set()
    todo = list(builders)
    while todo:
        name = todo.pop()
        if name in seen or name not in own:
            continue
        seen.add(name)
        for sub in ast.walk(own[name]):
            if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith(
                "refrain.adapters"
            ):
                found.update(alias.name for alias in sub.names)
        todo.extend(_called(own[name]))
    return found


def needed_roles(repo: Path) -> dict[str, set[str]]:
    """function → the project roles its code needs."""
    bootstrap = repo / "shared" / "refrain" / "bootstrap"
    needed = {}
    for fn in TOPOLOGY.functions:
        main = repo / "functions" / fn.source / "main.py"
        needed[fn.name] = roles_for(adapters_of(bootstrap, builders_of(main, fn.entry_point)))
    return needed


def check_least_privilege(repo: Path, terraform: Path | None = None) -> list[str]:
    """Terraform's project roles per function equal what its adapters need."""
    settings = load_tree(terraform or repo / "terraform")[""].locals.get("function_settings", {})
    problems = []
    for fn, needed in needed_roles(repo).items():
        granted = set(settings.get(fn, {}).get("project_roles", []))
        for role in sorted(granted - needed):
            problems.append(f"{fn}: holds {role}, which its code never uses")
        for role in sorted(needed - granted):
            problems.append(f"{fn}: needs {role}, which Terraform does not grant")
    return problems
