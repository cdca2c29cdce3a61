#!/usr/bin/env bash
# The test command: set up .venv if needed, lint (ruff), then run the whole test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
