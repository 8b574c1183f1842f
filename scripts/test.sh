#!/usr/bin/env bash
# Set up from scratch (system packages too) and run every test, slow and browser ones included.
# Lint (ruff) and type checks (mypy) run inside the test suite (tests/test_quality.py).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --dev
exec .venv/bin/python -m pytest "$@"
