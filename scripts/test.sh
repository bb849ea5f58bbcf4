#!/usr/bin/env bash
# Set up everything on a fresh machine and run the whole test suite: lint, unit, API and
# real-browser tests. Extra arguments go to pytest (e.g. `bash scripts/test.sh -k store`).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium drives the browser tests (a test tool's own browser download fails here).
if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi

python3 -m venv .venv
# (grep drops pip's notes about find-links folders that this machine's pip config names)
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | { grep -v "^WARNING: Location" || true; }
.venv/bin/python -m pip install -q -r requirements-dev.txt 2>&1 | { grep -v "^WARNING: Location" || true; }

.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Two workers, each test file on one of them (its fixtures shared): the suite waits on
# browsers, servers and subprocesses much of the time, so two share the CI's two cores well.
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
