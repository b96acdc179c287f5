"""Experiment analysis (tooling: needs SciPy, never in a function archive)."""
