#!/usr/bin/env bash
# The main job: set up .venv if needed, check dvc.yaml matches params.yaml, reproduce the pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
python -m blockbench.dvcgen --check
exec dvc repro "$@"
