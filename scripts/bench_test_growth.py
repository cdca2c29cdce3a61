"""How much time the tests added since a base commit cost: a benchmark, not a test.

It runs the test files changed since the base commit, at the base (a temporary worktree) and at
HEAD, one after the other, each in one process (`-p no:xdist`, every duration recorded), and
prints both totals of setup, call and teardown time, their difference, and what the tests the
base did not have cost. Work added to one process is an upper bound on what it adds to the test
command's wall time, which spreads the same work over one worker per core. Tests marked `engines`
or `slurm` (whole pipelines in temporary clones) are left out by default (`--marks`). Run it on
quiet cores; each repeat prints its figures, then the spread over repeats.

    .venv/bin/python scripts/bench_test_growth.py --base b2ef694^ --repeats 2
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
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


def _pytest(checkout: Path, files: list[str], marks: str, *flags: str):
    """pytest in one process at `checkout` (its own src/ first), on the files it has."""
    present = [f for f in files if (checkout / f).exists()]
    if not present:  # pytest given no file runs the whole suite: nothing to run, nothing timed
        return subprocess.CompletedProcess([], 0, "", "")
    one_process = ["-p", "no:xdist", "-p", "no:cacheprovider", "-o", "addopts="]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *one_process, *flags, "-m", marks, *present],
        cwd=checkout,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(checkout / "src")},
    )


def collected_ids(checkout: Path, files: list[str], marks: str) -> set[str]:
    proc = _pytest(checkout, files, marks, "--collect-only")
    return {line.strip() for line in proc.stdout.splitlines() if "::" in line}


def timed_run(checkout: Path, files: list[str], marks: str) -> dict[str, float]:
    """Each test's setup + call + teardown seconds, the files run in one process at `checkout`."""
    proc = _pytest(checkout, files, marks, "--durations=0", "--durations-min=0")
    if proc.returncode != 0 and checkout == ROOT:
        sys.exit(f"bench_test_growth: the tests failed at HEAD:\n{proc.stdout[-3000:]}")
    if proc.returncode != 0:  # the base's tests in today's environment: timed all the same
        print("    at the base: " + proc.stdout.strip().splitlines()[-1])
    per_test: dict[str, float] = defaultdict(float)
    for line in proc.stdout.splitlines():
        m = DURATION.match(line)
        if m:
            per_test[m.group(3).strip()] += float(m.group(1))
    return per_test


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
            measure(args, files, base, old)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base)],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
    return 0


def measure(args: argparse.Namespace, files: list[str], base: Path, old: set[str]) -> None:
    print(f"{len(files)} test files changed since {args.base}: {' '.join(files)}")
    print(f"{len(old)} of their tests ({args.marks}) existed at {args.base}")
    growth, added_totals = [], []
    for i in range(args.repeats):
        before = timed_run(base, files, args.marks)
        after = timed_run(ROOT, files, args.marks)
        new = {t: s for t, s in after.items() if t not in old}
        grew = sum(after.values()) - sum(before.values())
        growth.append(grew)
        added_totals.append(sum(new.values()))
        print(
            f"repeat {i + 1}: base {len(before)} tests {sum(before.values()):.1f} s; "
            f"HEAD {len(after)} tests {sum(after.values()):.1f} s; growth {grew:+.1f} s, "
            f"of which {len(new)} new tests {sum(new.values()):.1f} s"
        )
        for t, sec in sorted(new.items(), key=lambda kv: -kv[1])[:5]:
            print(f"    {sec:6.2f} s  {t}")
    if args.repeats > 1:
        print(
            f"growth: median {statistics.median(growth):+.1f} s, range {min(growth):+.1f} to "
            f"{max(growth):+.1f} s; new tests: median {statistics.median(added_totals):.1f} s, "
            f"over {args.repeats} repeats"
        )


if __name__ == "__main__":
    sys.exit(main())
