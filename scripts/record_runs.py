"""Record runs trained outside the engines (scripts/train_pending.py) in DVC, in one batch.

A long study trains in a frozen copy of the repository (a `git worktree` of the commit that
declared the runs), so that edits here cannot change a queue half-way. This script takes every run
of params.yaml that the copy has trained with this repository's current run config
(`results/runs/<run>/config.yaml` equal to `results/configs/<run>.yaml`) and that is not recorded
here yet, copies its train outputs, records them with `dvc commit -f train@<run> ...` and runs
`dvc repro -s evaluate@<run> ...` here. Commit the result with git afterwards.

    .venv/bin/python scripts/record_runs.py /work/frozen --dry-run
    .venv/bin/python scripts/record_runs.py /work/frozen

Only sound when the copy's training code is this repository's (retrain one committed run in the
copy and compare model.pt first: CPU training is bit-reproducible).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from blockbench import params as P  # noqa: E402
from blockbench import paths  # noqa: E402

TRAIN_OUTPUTS = ("config.yaml", "model.pt", "train.json", "history.csv")


def trained_elsewhere(params: dict, source: Path) -> list[str]:
    """Runs the copy has trained with the current config and this repository lacks."""
    out = []
    for run in P.run_names(params):
        theirs = source / paths.run_dir(run)
        key = ROOT / paths.run_config(run)
        if not all((theirs / f).exists() for f in TRAIN_OUTPUTS) or not key.exists():
            continue
        if (theirs / "config.yaml").read_text() != key.read_text():
            continue
        if (ROOT / paths.metrics(run)).exists():
            continue  # recorded already
        out.append(run)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("source", type=Path, help="the repository copy the runs were trained in")
    ap.add_argument("--dry-run", action="store_true", help="list the runs and stop")
    ap.add_argument(
        "--train-only",
        action="store_true",
        help="record the trainings only; their evaluations run in the next `dvc repro`",
    )
    args = ap.parse_args()
    runs = trained_elsewhere(P.load(ROOT / "params.yaml"), args.source)
    print(f"{len(runs)} to record: {' '.join(runs)}", flush=True)
    if args.dry_run or not runs:
        return 0
    for run in runs:
        (ROOT / paths.run_dir(run)).mkdir(parents=True, exist_ok=True)
        for f in TRAIN_OUTPUTS:
            shutil.copy2(args.source / paths.run_dir(run) / f, ROOT / paths.run_dir(run) / f)
    bin_dir = Path(sys.executable).parent  # the stages' `python` is this interpreter's
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    dvc = str(bin_dir / "dvc")
    steps = (
        (("commit -f", "train"),)
        if args.train_only
        else (("commit -f", "train"), ("repro -s", "evaluate"))
    )
    for cmd, stage in steps:
        targets = [f"{stage}@{r}" for r in runs]
        subprocess.run([dvc, *cmd.split(), *targets], cwd=ROOT, env=env, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
