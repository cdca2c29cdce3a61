"""Mutation benchmark: how many small planted bugs in the core modules the fast tests notice.

A benchmark, not part of the test command. It copies the repository's tracked files to a work
folder (so the checkout never holds a mutated file), runs mutmut (pinned in
requirements-mutation.txt; configured under [tool.mutmut] in pyproject.toml: the fast test files
only, the stamp test left out) on the mutants of SCOPE, and prints per module: mutants, killed,
survived, untested, equivalent (listed and explained in docs/mutation_equivalents.yaml, left out of
the score) and the score = killed / (mutants - equivalent).

    python scripts/mutation_benchmark.py                 # every module of SCOPE
    python scripts/mutation_benchmark.py --only split    # one module (a key of SCOPE)
    python scripts/mutation_benchmark.py --survivors     # also list the mutants no test killed
    python scripts/mutation_benchmark.py --rerun-survivors --only keys  # after adding tests

mutmut keeps its results in the work folder (default /tmp/blockbench-mutation): a second call
retests only what changed. `--fresh` starts over.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PIN = ROOT / "requirements-mutation.txt"
EQUIVALENTS = ROOT / "docs/mutation_equivalents.yaml"

# module -> the mutant names (fnmatch patterns on mutmut's names) it scores. Whole modules, but for
# report/__init__.py the verdict code and for training.py its resume path.
SCOPE = {
    "report/statistics": ["blockbench.report.statistics.*"],
    "report/claims": ["blockbench.report.claims.*"],
    "report (verdicts)": [
        f"blockbench.report.xǁStudyǁ{m}__mutmut_*"
        for m in ("time_verdict", "selected_remedy", "verdict_label", "target_for")
    ],
    "evaluation": ["blockbench.evaluation.*"],
    "split": ["blockbench.split.*"],
    "remedies": ["blockbench.remedies.*"],
    "keys": ["blockbench.keys.*"],
    "storage": ["blockbench.storage.*"],
    "codedeps": ["blockbench.codedeps.*"],
    "training (resume)": [
        f"blockbench.training.x_{f}__mutmut_*"
        for f in (
            "run_fingerprint",
            "_rng_state",
            "_set_rng_state",
            "save_resume_point",
            "load_resume_point",
        )
    ],
}
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def ensure_mutmut() -> Path:
    exe = Path(sys.executable).with_name("mutmut")
    if not exe.exists():
        print(f"installing {PIN.read_text().strip()} ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(PIN)], check=True)
    return exe


def copy_repository(work: Path, fresh: bool) -> None:
    """The tracked files of the checkout (as they are on disk) into `work`; mutmut's own
    `mutants/` results stay unless `fresh`."""
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = ROOT / name
        if name.startswith(("results/runs/", "results/study_figures/")) or not src.is_file():
            continue  # the study's outputs: no fast test reads them
        dst = work / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copy2(src, dst)


def results(mutmut: Path, work: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(mutmut), "results", "--all", "true"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(re.findall(r"^\s+(\S+): (.+)$", out, re.M))


def module_of(name: str) -> str | None:
    for module, patterns in SCOPE.items():
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            return module
    return None


def table(status: dict[str, str], equivalent: dict[str, str]) -> tuple[str, list[str]]:
    rows, survivors = [], []
    head = "| module | mutants | killed | survived | untested | equivalent | not run | score |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    totals = [0, 0, 0, 0, 0, 0]
    for module in SCOPE:
        names = [n for n in status if module_of(n) == module]
        eq = [n for n in names if n in equivalent]
        rest = [n for n in names if n not in equivalent]
        killed = [n for n in rest if status[n] in KILLED]
        untested = [n for n in rest if status[n] == "no tests"]
        not_run = [n for n in rest if status[n] == "not checked"]  # mutmut has not run it yet
        survived = [n for n in rest if n not in killed + untested + not_run]
        survivors += survived + untested
        counts = [len(names), len(killed), len(survived), len(untested), len(eq), len(not_run)]
        totals = [t + c for t, c in zip(totals, counts)]
        rows.append((module, counts))
    for module, c in rows + [("**all**", totals)]:
        scored = c[0] - c[4] - c[5]  # a score over the mutants run, equivalents left out
        score = f"{100 * c[1] / scored:.1f}%" if scored else "-"
        if c[5]:
            score += f" ({c[5]} not run)"
        lines.append(f"| {module} | " + " | ".join(map(str, c)) + f" | {score} |")
    return "\n".join(lines), survivors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/blockbench-mutation"))
    ap.add_argument("--only", choices=list(SCOPE), action="append", help="modules to (re)test")
    ap.add_argument("--fresh", action="store_true", help="forget mutmut's earlier results")
    ap.add_argument("--survivors", action="store_true", help="list the mutants no test killed")
    ap.add_argument("--report-only", action="store_true", help="print the table, run nothing")
    ap.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="run again only the mutants of the chosen modules that no test killed last time "
        "(after tests were added; the killed keep their result)",
    )
    ap.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()

    mutmut = ensure_mutmut()
    copy_repository(args.work, args.fresh)
    patterns = [p for m in (args.only or SCOPE) for p in SCOPE[m]]
    if args.rerun_survivors:
        earlier = results(mutmut, args.work)
        patterns = sorted(
            n
            for n, s in earlier.items()
            if s not in KILLED
            and s != "not checked"
            and any(fnmatch.fnmatchcase(n, p) for p in patterns)
        )
        print(f"rerunning {len(patterns)} mutants no test killed", flush=True)
    start = time.monotonic()
    if not args.report_only and patterns:
        cmd = [str(mutmut), "run", "--max-children", str(args.max_children), *patterns]
        run = subprocess.run(cmd, cwd=args.work, capture_output=True, text=True)
        if run.returncode != 0:
            spinner = re.compile(r"^\W*(Generating mutants|Running stats|Running clean tests)\s*$")
            out = "\n".join(ln for ln in run.stdout.splitlines() if not spinner.match(ln))
            print(out[-6000:], run.stderr[-3000:], sep="\n")
            print(f"error: mutmut run exited {run.returncode} (its output above)")
            return 1
    equivalent = (yaml.safe_load(EQUIVALENTS.read_text()) or {}) if EQUIVALENTS.exists() else {}
    status = {n: s for n, s in results(mutmut, args.work).items() if module_of(n)}
    text, survivors = table(status, equivalent)
    print(text)
    print(
        f"\nmutmut {PIN.read_text().split('==')[1].strip()}, {len(status)} mutants in scope, "
        f"{time.monotonic() - start:.0f} s, {args.max_children} workers"
    )
    if args.survivors:
        print("\nnot killed:\n" + "\n".join(f"  {n}: {status[n]}" for n in sorted(survivors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
