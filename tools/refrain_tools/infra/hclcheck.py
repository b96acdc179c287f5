"""Structural checks of the Terraform tree, parsed with python-hcl2.

Each check takes the terraform directory and returns the problems it found
(empty = fine), so tests can point it at the real tree or at a broken copy.
They check what review would: every function has its own identity, only the
webhook and the account API are public, every subscription dead-letters, a pushed
function is invoked only by the push identity and a pull subscription is read only by the function
that drains it, no secret value is written in the code, and the resources
iterate over the generated topology.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
# The internet's doors: the providers' webhook and the subscribers' account API; both
# authenticate every request themselves (provider signatures; Firebase/OIDC tokens).
PUBLIC_FUNCTIONS = ["account_api", "checkout_webhook"]
_META = {"__is_block__", "__comments__", "__start_line__", "__end_line__"}
# Shapes of real credentials: Stripe, AWS, Google API keys, PEM keys, long hex/base64 blobs.
_SECRET_LIKE = re.compile(
    r"(sk|rk|pk)_(live|test)_[0-9A-Za-z]{8,}|whsec_[0-9A-Za-z]{8,}|AKIA[0-9A-Z]{16}|"
    r"AIza[0-9A-Za-z_-]{30,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|\b[0-9a-fA-F]{40,}\b|"
    r"[A-Za-z0-9+/]{48,}={0,2}"
)
# refrain.churn.pseudonym falls back to a public pepper in these environments.
_LOCAL_ENVIRONMENTS = frozenset({"local", "test", "dev"})
_SECRET_ENV_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|HMAC|PEPPER|PRIVATE")


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps quotes on literals and labels; drop them and its bookkeeping keys."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        return value
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k not in _META}
    return value


@dataclass(frozen=True)
class Block:
    kind: str  # "resource" | "module" | "data"
    type: str  # resource type, or "module"
    name: str
    body: dict[str, Any]
    file: Path


@dataclass(frozen=True)
class TfDir:
    """One Terraform module directory, parsed."""

    path: Path
    blocks: tuple[Block, ...]
    locals: dict[str, Any]

    def resources(self, rtype: str | None = None) -> list[Block]:
        return [b for b in self.blocks if b.kind == "resource" and rtype in (None, b.type)]

    def module(self, name: str) -> Block | None:
        return next((b for b in self.blocks if b.kind == "module" and b.name == name), None)

    def resource(self, rtype: str, name: str) -> Block | None:
        return next((b for b in self.resources(rtype) if b.name == name), None)


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> Any:
    """Parsing is the slow part (lark); the checks parse the same files many times."""
    return _unquote(hcl2.loads(text))


def load_dir(path: Path) -> TfDir:
    blocks: list[Block] = []
    local_values: dict[str, Any] = {}
    for tf in sorted(path.glob("*.tf")):
        doc = copy.deepcopy(_parse(tf.read_text(encoding="utf-8")))
        for entry in doc.get("resource", []) + doc.get("data", []):
            kind = "resource" if entry in doc.get("resource", []) else "data"
            for rtype, named in entry.items():
                for name, body in named.items():
                    blocks.append(Block(kind, rtype, name, body, tf))
        for entry in doc.get("module", []):
            for name, body in entry.items():
                blocks.append(Block("module", "module", name, body, tf))
        for entry in doc.get("locals", []):
            local_values.update(entry)
    return TfDir(path, tuple(blocks), local_values)


def load_tree(root: Path) -> dict[str, TfDir]:
    """The root module ("") and each local module ("modules/<name>")."""
    tree = {"": load_dir(root)}
    for sub in sorted((root / "modules").glob("*")):
        if sub.is_dir():
            tree[f"modules/{sub.name}"] = load_dir(sub)
    return tree


def load_topology(root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root / "generated" / "topology.json").read_text("utf-8"))
    return doc


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _walk_strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _walk_strings(v)


def _first(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    blocks = body.get(key)
    if isinstance(blocks, list) and blocks and isinstance(blocks[0], dict):
        return blocks[0]
    return None


def check_functions_have_own_service_account(root: Path) -> list[str]:
    """Every function runs as a service account created for it alone."""
    problems = []
    tree = load_tree(root)
    for where, tfdir in tree.items():
        for fn in tfdir.resources("google_cloudfunctions2_function"):
            service = _first(fn.body, "service_config") or {}
            email = str(service.get("service_account_email", ""))
            if where != "modules/function":
                problems.append(f"{where or 'root'}: function {fn.name} outside modules/function")
                continue
            if "google_service_account.runtime.email" not in email:
                problems.append(f"{where}: function does not run as its own service account")
            if not tfdir.resource("google_service_account", "runtime"):
                problems.append(f"{where}: no google_service_account.runtime")
    call = tree[""].module("function")
    if call is None:
        return [*problems, 'root: no module "function"']
    if call.body.get("for_each") != "${local.functions}":
        problems.append("root: module.function does not iterate over local.functions")
    if "each.value.cloud_name" not in str(call.body.get("service_account_id", "")):
        problems.append("root: service_account_id is not derived from each function's name")
    names = [f["cloud_name"] for f in load_topology(root)["functions"]]
    if len(set(names)) != len(names):
        problems.append("topology: two functions share a cloud name (and a service account)")
    return problems


# Internet ingress only for a public function; through the load balancer alone when
# Cloud Armor is in front of it (edge.tf).
_GATED_INGRESS = (
    '${var.public ? (var.behind_load_balancer ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL")'
    ' : "ALLOW_INTERNAL_ONLY"}'
)


def check_only_webhook_public(root: Path) -> list[str]:
    """Only the public functions (webhook, account API) take unauthenticated calls or
    internet ingress."""
    problems = []
    tree = load_tree(root)
    public = sorted(f["name"] for f in load_topology(root)["functions"] if f["public"])
    if public != PUBLIC_FUNCTIONS:
        problems.append(f"topology: public functions are {public}, expected {PUBLIC_FUNCTIONS}")
    call = tree[""].module("function")
    if call is not None and call.body.get("public") != "${each.value.public}":
        problems.append(f"root: module.function public = {call.body.get('public')!r}")
    for where, tfdir in tree.items():
        for block in tfdir.blocks:
            text = " ".join(_walk_strings(block.body))
            for member in PUBLIC_MEMBERS:
                if member not in text:
                    continue
                gated = where == "modules/function" and block.body.get("count") == (
                    "${var.public ? 1 : 0}"
                )
                if not gated:
                    problems.append(f"{where or 'root'}: {block.type}.{block.name} grants {member}")
            if "ALLOW_ALL" in text and block.type == "google_cloudfunctions2_function":
                service = _first(block.body, "service_config") or {}
                if service.get("ingress_settings") != _GATED_INGRESS:
                    problems.append(f"{where or 'root'}: {block.name} ingress not gated on public")
    return problems


def check_dead_letters(root: Path) -> list[str]:
    """Every consuming subscription has a dead-letter policy and a retry policy (invariant 8)."""
    problems = []
    for where, tfdir in load_tree(root).items():
        for sub in tfdir.resources("google_pubsub_subscription"):
            label = f"{where or 'root'}: subscription {sub.name}"
            if "dead_letter" in str(sub.body.get("topic", "")):
                if _pushes(sub.body):
                    problems.append(f"{label} reads a dead-letter topic but pushes")
                continue  # the hold subscription: dead letters of dead letters make no sense
            policy = _first(sub.body, "dead_letter_policy")
            if not policy or not policy.get("dead_letter_topic"):
                problems.append(f"{label} has no dead-letter policy")
            elif "max_delivery_attempts" not in policy:
                problems.append(f"{label} has no max_delivery_attempts")
            if not _first(sub.body, "retry_policy"):
                problems.append(f"{label} has no retry policy")
    for sub in load_topology(root)["subscriptions"]:
        if not sub.get("dead_letter_topic") or not 5 <= sub["max_delivery_attempts"] <= 100:
            problems.append(f"topology: subscription {sub['name']} dead-letter policy invalid")
    return problems


def _pushes(body: dict[str, Any]) -> bool:
    dynamic = body.get("dynamic") or []
    return "push_config" in body or any("push_config" in d for d in dynamic)


_PUSH_GATE = "${var.push_endpoint == null ? [] : [var.push_endpoint]}"
_PUSH_INVOKER = "serviceAccount:${google_service_account.pubsub_push.email}"
_BROAD_PUBSUB_ROLES = ("roles/pubsub.subscriber", "roles/pubsub.editor", "roles/pubsub.admin")


def check_subscription_access(root: Path) -> list[str]:
    """Pushed functions are invoked only by the push identity; a pull subscription is
    read only by the function that drains it, through a binding on that subscription."""
    problems = []
    tree = load_tree(root)
    top = tree[""]
    sub_mod = tree.get("modules/subscription")
    this = sub_mod.resource("google_pubsub_subscription", "this") if sub_mod else None
    if this is not None:
        dynamic = [d["push_config"] for d in this.body.get("dynamic") or [] if "push_config" in d]
        if "push_config" in this.body or not dynamic or dynamic[0].get("for_each") != _PUSH_GATE:
            problems.append(
                "modules/subscription: push_config is not present only with a push_endpoint"
            )
    for block in sub_mod.resources("google_pubsub_subscription_iam_member") if sub_mod else []:
        member, role = block.body.get("member"), block.body.get("role")
        if role != "roles/pubsub.subscriber" or member not in (
            "${var.pubsub_service_agent}",
            "${each.value}",
        ):
            problems.append(f"modules/subscription: {block.name} grants {role} to {member}")
        elif member == "${each.value}" and block.body.get("for_each") != "${var.subscribers}":
            problems.append(f"modules/subscription: {block.name} is not driven by var.subscribers")
    if top.locals.get("push_invoker") != {"pubsub-push": _PUSH_INVOKER}:
        problems.append("root: local.push_invoker is not exactly the push service account")
    call = top.module("function")
    if call is not None and "local.pushed_functions" not in str(call.body.get("invokers", "")):
        problems.append("root: module.function invokers are not limited to pushed functions")
    sub_call = top.module("subscription")
    if sub_call is not None and "subscribes_to" not in str(sub_call.body.get("subscribers", "")):
        problems.append("root: module.subscription subscribers do not come from subscribes_to")
    settings: dict[str, Any] = top.locals.get("function_settings", {})
    pull = {s["name"] for s in load_topology(root)["subscriptions"] if s["push_function"] is None}
    drained: set[str] = set()
    for name, fn in settings.items():
        reads = set(fn.get("subscribes_to") or [])
        drained |= reads
        for wrong in sorted(reads - pull):
            problems.append(f"root: {name} subscribes to {wrong}, which is not a pull subscription")
        for role in fn.get("project_roles") or []:
            if role in _BROAD_PUBSUB_ROLES:
                problems.append(f"root: {name} has {role} on the whole project")
    for orphan in sorted(pull - drained):
        problems.append(f"root: pull subscription {orphan} is drained by no function")
    return problems


def check_no_inline_secrets(root: Path) -> list[str]:
    """Secrets are created empty; no value, and nothing that looks like a key, is in the code."""
    problems = []
    for where, tfdir in load_tree(root).items():
        for block in tfdir.resources("google_secret_manager_secret_version"):
            problems.append(f"{where or 'root'}: secret version {block.name} in Terraform")
        for block in tfdir.blocks:
            if "secret_data" in block.body:
                problems.append(f"{where or 'root'}: {block.type}.{block.name} has secret_data")
    for path in sorted([*root.rglob("*.tf"), *root.rglob("*.tfvars"), *root.rglob("*.json")]):
        if ".terraform" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for match in _SECRET_LIKE.finditer(text):
            problems.append(
                f"{path.relative_to(root)}: secret-looking literal {match.group()[:12]}…"
            )
    for tfvars in sorted(root.rglob("*.tfvars")):
        values = _parse(tfvars.read_text(encoding="utf-8"))
        function_env = values.get("function_env", {}) or {}
        for key in function_env:
            if _SECRET_ENV_NAME.search(key):
                problems.append(f"{tfvars.relative_to(root)}: {key} belongs in Secret Manager")
        if str(function_env.get("REFRAIN_ENVIRONMENT", "")).lower() in _LOCAL_ENVIRONMENTS:
            rel = tfvars.relative_to(root)
            problems.append(f"{rel}: REFRAIN_ENVIRONMENT would allow the public local pepper")
    return problems


# module/resource -> the local it must iterate over
_ITERATIONS = {
    ("module", "topic"): "local.topics",
    ("module", "subscription"): "local.subscriptions",
    ("module", "function"): "local.functions",
    ("module", "analytics"): "local.datasets",
    ("google_cloud_scheduler_job", "tick"): "local.schedules",
    ("google_storage_bucket_object", "function_source"): "local.sources",
    ("google_firestore_index", "this"): "local.firestore_indexes",
    ("google_firestore_field", "ttl"): "local.firestore_ttl_fields",
}
_SUBSCRIPTION_WIRING = (
    "topic",
    "dead_letter_topic",
    "hold_subscription",
    "max_delivery_attempts",
    "min_backoff_s",
    "max_backoff_s",
    "ack_deadline_s",
    "ordering",
    "filter",
    "push_function",
    "push_path",
)


def check_iterates_topology(root: Path) -> list[str]:
    """The root module builds its topics, subscriptions, functions... from the generated JSON."""
    problems = []
    tree = load_tree(root)
    top = tree[""]
    if "generated/topology.json" not in str(top.locals.get("topology", "")):
        problems.append("root: local.topology does not read generated/topology.json")
    for (kind, name), local in _ITERATIONS.items():
        block = top.module(name) if kind == "module" else top.resource(kind, name)
        if block is None:
            problems.append(f"root: {kind} {name} missing")
        elif block.body.get("for_each") != "${" + local + "}":
            problems.append(f"root: {kind} {name} does not iterate over {local}")
    sub_call = top.module("subscription")
    wiring = " ".join(_walk_strings(sub_call.body)) if sub_call else ""
    for field in _SUBSCRIPTION_WIRING:
        if f"each.value.{field}" not in wiring:
            problems.append(f"root: module.subscription ignores the topology's {field}")
    settings = top.locals.get("function_settings", {})
    declared = {f["name"] for f in load_topology(root)["functions"]}
    if set(settings) != declared:
        problems.append(
            f"root: function_settings {sorted(settings)} != topology functions {sorted(declared)}"
        )
    sub_mod = tree.get("modules/subscription")
    sub_res = sub_mod.resource("google_pubsub_subscription", "this") if sub_mod else None
    policy = _first(sub_res.body, "dead_letter_policy") if sub_res else None
    if not policy or policy.get("max_delivery_attempts") != "${var.max_delivery_attempts}":
        problems.append("modules/subscription: dead_letter_policy ignores max_delivery_attempts")
    return problems


def check_server_threads(root: Path) -> list[str]:
    """Each function's server has one thread per request Cloud Run may send it at once."""
    tfdir = load_tree(root)["modules/function"]
    want = {"WORKERS": "1", "THREADS": "${tostring(var.concurrency)}"}
    server = {k: tfdir.locals.get("server_env", {}).get(k) for k in want}
    problems = [f"modules/function: server_env {server} is not {want}"] if server != want else []
    for fn in tfdir.resources("google_cloudfunctions2_function"):
        env = (_first(fn.body, "service_config") or {}).get("environment_variables")
        if env != "${merge(var.environment, local.server_env)}":
            problems.append(f"modules/function: {fn.name} environment lacks local.server_env")
    return problems


ALL_CHECKS = (
    check_functions_have_own_service_account,
    check_only_webhook_public,
    check_dead_letters,
    check_subscription_access,
    check_no_inline_secrets,
    check_iterates_topology,
    check_server_threads,
)


def run_all(root: Path) -> list[str]:
    return [problem for check in ALL_CHECKS for problem in check(root)]
