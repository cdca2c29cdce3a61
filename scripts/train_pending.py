"""Train every run whose committed weights are missing or out of date, one after another.

For long studies on a small machine: it calls the train stage script directly (the same command
both engines run, `--threads 2`), so it holds no engine lock and other work can go on; record the
results afterwards with `dvc commit -f train@<run>` (or `dvc repro`, which then has nothing to
train). A run is pending when `results/runs/<run>/model.pt` is missing or the config it was
trained with (`results/runs/<run>/config.yaml`) differs from its current key
(`results/configs/<run>.yaml`, written by `workflow/scripts/configs.py`).

Order: seed-major -- every configuration's first missing seed before any configuration's next one,
so a study cut short still has the most configurations at the most seeds.

    python scripts/train_pending.py --dry-run
    nohup python scripts/train_pending.py > logs/train_pending.log 2>&1 &

A run that fails is reported and the queue goes on (its log: logs/train/<run>.log).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from blockbench import params as P  # noqa: E402
from blockbench import paths  # noqa: E402


def pending(params: dict, root: Path) -> list[str]:
    expanded = P.expand_runs(params)
    todo = []
    for run in expanded:
        key = root / paths.run_config(run)
        trained = root / paths.trained_config(run)
        if not (root / paths.model(run)).exists() or not trained.exists():
            todo.append(run)
        elif trained.read_text() != key.read_text():
            todo.append(run)
    # seed-major: the rank of a run's seed among its logical run's seeds
    rank = {}
    for run, entry in expanded.items():
        rank[run] = P.replicates(params, entry.logical).index(run)
    return sorted(todo, key=lambda r: rank[r])  # stable: params order within a rank


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="list the pending runs and stop")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the train script")
    ap.add_argument(
        "--script", default=str(ROOT / "workflow/scripts/train.py"), help="train stage script"
    )
    ap.add_argument(
        "--params",
        default="params.yaml",
        help="params file the train script reads (a frozen copy keeps a long queue independent "
        "of later edits to params.yaml; the run configs must match it)",
    )
    args = ap.parse_args()
    params = P.load(ROOT / "params.yaml")
    todo = pending(params, ROOT)
    print(f"{len(todo)} pending: {' '.join(todo)}", flush=True)
    if args.dry_run:
        return 0
    log_dir = ROOT / "logs" / "train"
    log_dir.mkdir(parents=True, exist_ok=True)
    for i, run in enumerate(todo, 1):
        t0 = time.time()
        with open(log_dir / f"{run}.log", "w") as log:
            rc = subprocess.call(
                [args.python, args.script, "--params", args.params, "--run", run, "--threads", "2"],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        print(f"[{i}/{len(todo)}] {run}: exit {rc}, {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
