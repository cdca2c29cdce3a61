"""How much time the tests added since a base commit cost: a benchmark, not a test.

It collects the test ids of the base commit (in a temporary worktree), runs the test files changed
since then at HEAD in one process (`-p no:xdist`, every duration recorded), and sums the setup,
call and teardown times of the tests the base did not have. One process is an upper bound on what
those tests add to the test command's wall time, which spreads the same work over one worker per
core. Tests marked `engines` or `slurm` (whole pipelines in temporary clones) are left out by
default (`--marks`). Run it on quiet cores; each repeat prints its figures, then the spread.

    .venv/bin/python scripts/bench_test_growth.py --base b2ef694^ --repeats 2
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DURATION = re.compile(r"^\s*([0-9.]+)s (setup|call|teardown)\s+(\S.*)$")


def changed_test_files(base: str) -> list[str]:
    out = subprocess.run(
        ["git", "diff", "--name-only", base, "HEAD", "--", "tests/test_*.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [f for f in out if (ROOT / f).exists()]


def collected_ids(checkout: Path, files: list[str], marks: str) -> set[str]:
    present = [f for f in files if (checkout / f).exists()]
    if not present:
        return set()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "-m",
            marks,
            *present,
        ],
        cwd=checkout,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(checkout / "src"), "PATH": str(Path(sys.executable).parent)},
    )
    return {line.strip() for line in proc.stdout.splitlines() if "::" in line}


def timed_run(files: list[str], marks: str) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--durations=0",
            "--durations-min=0",
            "-m",
            marks,
            *files,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench_test_growth: the tests failed at HEAD:\n{proc.stdout[-3000:]}")
    per_test: dict[str, float] = defaultdict(float)
    for line in proc.stdout.splitlines():
        m = DURATION.match(line)
        if m:
            per_test[m.group(3).strip()] += float(m.group(1))
    return wall, per_test


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--base", required=True, help="the commit before the tests being costed")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--marks", default="not engines and not slurm", help="pytest -m expression")
    args = ap.parse_args()
    files = changed_test_files(args.base)
    with tempfile.TemporaryDirectory(prefix="bench-test-growth-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base), args.base],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            old = collected_ids(base, files, args.marks)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base)],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
    print(f"{len(files)} test files changed since {args.base}: {' '.join(files)}")
    print(f"{len(old)} of their tests ({args.marks}) existed at {args.base}")
    added_totals, walls = [], []
    for i in range(args.repeats):
        wall, per_test = timed_run(files, args.marks)
        new = {t: s for t, s in per_test.items() if t not in old}
        added = sum(new.values())
        added_totals.append(added)
        walls.append(wall)
        print(
            f"repeat {i + 1}: {len(per_test)} tests, {sum(per_test.values()):.1f} s of test "
            f"time ({wall:.1f} s wall); {len(new)} new tests: {added:.1f} s"
        )
        for t, s in sorted(new.items(), key=lambda kv: -kv[1])[:8]:
            print(f"    {s:6.2f} s  {t}")
    if args.repeats > 1:
        print(
            f"new tests: median {statistics.median(added_totals):.1f} s, "
            f"range {min(added_totals):.1f}-{max(added_totals):.1f} s over {args.repeats} repeats"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
