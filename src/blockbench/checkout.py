"""What the Snakefile does to the checkout before Snakemake plans anything.

- **One engine at a time.** DVC deletes a stage's outputs before it runs the stage, so a `dvc repro`
  beside a Snakemake run in the same checkout deletes files the other engine is reading. The
  Snakefile takes DVC's own repository lock (`.dvc/tmp/lock`, an flock as DVC takes it) for as long
  as Snakemake runs: a `dvc repro` started meanwhile is refused by DVC ("Unable to acquire lock"),
  and a Snakemake started during a `dvc repro` stops with one line.
- **A fresh clone's data first.** A clone has every trained run but no data/ (rebuilt, not in
  git). Snakemake reruns every job downstream of a job it must run unless the link is `ancient()`
  *and the file exists*, so with data/ missing, one edited run would plan every run's training.
  Building the missing raw data and splits before the DAG is planned (the same stage scripts, in
  a subprocess) leaves only the runs a change touches.

Only the standard library here: the Snakefile imports this while it parses.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import paths
from .errors import BlockbenchError

DVC_LOCK = Path(".dvc") / "tmp" / "lock"
_held: list = []  # the open lock file, kept for the life of the process


def hold_dvc_lock(root: Path = Path(".")) -> bool:
    """Take DVC's repository lock until this process exits; False where there is no .dvc/.
    Raises BlockbenchError while a DVC command holds it."""
    if _held:
        return True
    if not (root / ".dvc").is_dir():
        return False
    lock = root / DVC_LOCK
    lock.parent.mkdir(parents=True, exist_ok=True)
    fh = open(lock, "a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise BlockbenchError(
            f"a DVC command is running in this checkout ({lock} is locked): wait for it to "
            "finish; run one engine at a time, since each deletes outputs the other reads"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f" {os.getpid()} snakemake\n")
    fh.flush()
    _held.append(fh)
    return True


def missing_data(dataset: str, splits: list[str], root: Path = Path(".")) -> list[list[str]]:
    """The stage commands (argument lists) that would build what is missing of data/."""
    commands = []
    if not (root / paths.raw(dataset)).is_file() or not (root / paths.raw_info(dataset)).is_file():
        commands.append(["workflow/scripts/download.py"])
    commands += [
        ["workflow/scripts/split.py", "--split", s]
        for s in splits
        if not (root / paths.prepared(s)).is_file()
    ]
    return commands


def build_missing_data(dataset: str, splits: list[str], root: Path = Path(".")) -> int:
    """Run the download and split stages for whatever of data/ is missing; returns how many stage
    commands ran. A failing stage raises BlockbenchError with its own last line."""
    commands = missing_data(dataset, splits, root)
    if not commands:
        return 0
    print(
        f"blockbench: data/ is incomplete (a fresh clone?): building it before Snakemake plans, "
        f"so that no committed run looks out of date ({len(commands)} stage commands)",
        file=sys.stderr,
        flush=True,
    )
    python = shutil.which("python") or sys.executable
    for command in commands:
        print(f"blockbench: python {' '.join(command)}", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [python, *command], cwd=root, stdout=sys.stderr, stderr=subprocess.PIPE, text=True
        )
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"]
            raise BlockbenchError(f"building data/ failed: python {' '.join(command)}: {lines[-1]}")
    return len(commands)


# Snakemake invocations that plan or run jobs; the others (lint, report, graphs, ...) touch nothing.
_NO_PLAN_FLAGS = {
    "--lint",
    "--report",
    "--dag",
    "--rulegraph",
    "--filegraph",
    "--d3dag",
    "--list-rules",
    "--list",
    "-l",
    "--list-target-rules",
    "--lt",
    "--unlock",
    "--cleanup-metadata",
    "--cleanup-shadow",
    "--summary",
    "-S",
    "--detailed-summary",
    "-D",
    "--archive",
    "--list-changes",
    "--lc",
    "--containerize",
    "--export-cwl",
    "--print-compilation",
    "--delete-all-output",
    "--delete-temp-output",
    "--version",
    "-v",
    "--help",
    "-h",
}


def plans_jobs(argv: list[str]) -> bool:
    """Whether a Snakemake command line plans or runs jobs (so data/ must be complete first)."""
    return not any(a.split("=", 1)[0] in _NO_PLAN_FLAGS for a in argv[1:])
