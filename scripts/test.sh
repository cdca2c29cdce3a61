#!/usr/bin/env bash
# The test command: set up .venv if needed, then run the whole test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
