"""Helpers shared by tests: load a Cloud Function's main.py as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/main.py under a unique module name."""
    module_name = f"refrain_function_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = ROOT / "functions" / name / "main.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
