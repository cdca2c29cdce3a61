#!/usr/bin/env bash
# The main job: set up .venv if needed, write the run configs from params.yaml, reproduce the
# pipeline with DVC. On a fresh clone this rebuilds data/ and retrains nothing that is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
python workflow/scripts/configs.py  # dvc.yaml iterates over the run list it writes
exec dvc repro "$@"
