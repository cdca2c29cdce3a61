"""How long the engines take to build the DAG on an up-to-date tree (issue: under 3 s each).

    .venv/bin/python scripts/bench_parse.py [--repeat 5]

Prints the median and the range of `snakemake -n --cores 1 results/summary.md` and `dvc status`,
each run `--repeat` times in a fresh process from the repository root.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "snakemake -n": ["snakemake", "-n", "--cores", "1", "results/summary.md"],
    "dvc status": ["dvc", "status"],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name, cmd in COMMANDS.items():
        times, last = [], None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            last = subprocess.run(cmd, capture_output=True, text=True, env=env)
            times.append(time.perf_counter() - t0)
        tail = (last.stdout + last.stderr).strip().splitlines()[-1:] or [""]
        print(
            f"{name:14} median {statistics.median(times):5.2f} s  (min {min(times):.2f}, "
            f"max {max(times):.2f}, {args.repeat} runs)  last line: {tail[0]}"
        )


if __name__ == "__main__":
    main()
