#!/usr/bin/env bash
# Creates .venv/ and installs exactly what uv.lock says. Safe to re-run; fast when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "refrain needs Python 3.11 or newer; found: $("$PYTHON" --version 2>&1)" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/uv --version 2>/dev/null | grep -q " $UV_VERSION"; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
UV_PROJECT_ENVIRONMENT=.venv .venv/bin/uv sync --frozen --inexact --quiet

# checkov (infrastructure policy checks) in its own environment: its pins clash with ours.
UV_PROJECT_ENVIRONMENT="$PWD/.tools/checkov" .venv/bin/uv sync --frozen --quiet --project tools/checkov

# The Firebase Auth emulator (firebase-tools, Node) for the local stack, at the version
# tools/firebase/package-lock.json pins, in .tools/firebase; re-installed when the lock changes.
if ! command -v npm >/dev/null 2>&1; then
    echo "refrain needs Node.js 20+ and npm for the Firebase Auth emulator (apt-get install nodejs npm)" >&2
    exit 1
fi
FIREBASE_DIR=.tools/firebase
if ! cmp -s tools/firebase/package-lock.json "$FIREBASE_DIR/package-lock.json" \
        || [ ! -x "$FIREBASE_DIR/node_modules/.bin/firebase" ]; then
    mkdir -p "$FIREBASE_DIR"
    cp tools/firebase/package.json tools/firebase/package-lock.json "$FIREBASE_DIR/"
    # No install scripts: the Auth emulator needs none (re2's native build is optional).
    (cd "$FIREBASE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
