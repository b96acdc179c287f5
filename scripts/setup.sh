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

# Headless Chromium from Debian's packages for the account page's browser test
# (tests/e2e/test_account_page.py drives it with Playwright; Playwright's own browser
# downloads are never used). Installed once, quietly; without root or password-less sudo
# the script says what to install, and CI (CI=true) stops here rather than skip the test.
if [ ! -x /usr/bin/chromium ]; then
    APT=()
    if [ "$(id -u)" = 0 ]; then
        APT=(env DEBIAN_FRONTEND=noninteractive apt-get)
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        APT=(sudo -n env DEBIAN_FRONTEND=noninteractive apt-get)
    fi
    if [ ${#APT[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
        mkdir -p .refrain
        if ! "${APT[@]}" install -y -qq --no-install-recommends chromium >.refrain/apt.log 2>&1; then
            "${APT[@]}" update -qq >>.refrain/apt.log 2>&1 || true
            "${APT[@]}" install -y -qq --no-install-recommends chromium >>.refrain/apt.log 2>&1 \
                || echo "apt-get install chromium failed: see .refrain/apt.log" >&2
        fi
    fi
    if [ ! -x /usr/bin/chromium ]; then
        echo "the account page's browser test needs Debian's chromium: apt-get install chromium" >&2
        if [ "${CI:-}" = "true" ]; then
            exit 1
        fi
    fi
fi
