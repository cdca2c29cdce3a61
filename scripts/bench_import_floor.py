"""Print each stage's start-up floor: the seconds a fresh interpreter needs to import what the
stage's entry script imports, before it reads any input (median over repeats, with the range).

    .venv/bin/python scripts/bench_import_floor.py --repeat 5

It runs `runpy.run_path(<entry script>, run_name="not_main")` in a new process: every module the
script imports at the top is loaded and no stage body runs. Heavy libraries a stage imports inside
its functions (pandas in train, for example) are counted separately, as the stage pays them too.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from blockbench import codedeps  # noqa: E402

PROBE = """
import runpy, sys, time
t0 = time.perf_counter()
runpy.run_path(sys.argv[1], run_name="not_main")
for name in sys.argv[2:]:
    __import__(name)
heavy = sorted(m for m in ("torch", "torchvision", "pandas", "matplotlib", "sklearn", "scipy")
               if m in sys.modules)
print(time.perf_counter() - t0, ",".join(heavy))
"""

# modules a stage imports inside its run function (so paid on every call, after start-up)
INSIDE = {"train": ["pandas"], "evaluate": ["pandas", "torchvision"], "plot": ["pandas"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print("| stage | import floor, s (median [min, max]) | heavy libraries loaded |")
    print("|---|---|---|")
    for stage, entry in codedeps.ENTRY_POINTS.items():
        times, heavy = [], ""
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(ROOT / entry), *INSIDE.get(stage, [])],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            times.append(time.perf_counter() - t0)  # whole process: interpreter start included
            heavy = out[1] if len(out) > 1 else "-"
        print(
            f"| {stage} | {statistics.median(times):.2f} [{min(times):.2f}, {max(times):.2f}] "
            f"| {heavy} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
