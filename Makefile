# The two commands of the README: `make demo` and `make test`. Both install from uv.lock first.
.PHONY: setup demo test lint typecheck unit integration e2e bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/refrain demo

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports --no-cache

typecheck: setup
	.venv/bin/mypy
	for f in functions/*/main.py; do .venv/bin/mypy $$f || exit 1; done

test: lint typecheck
	.venv/bin/pytest

unit: setup
	.venv/bin/pytest -m unit

integration: setup
	.venv/bin/pytest -m integration

bench: setup
	for b in bench/*.py; do .venv/bin/python $$b || exit 1; done
