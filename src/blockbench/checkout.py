"""What the Snakefile does to the checkout before Snakemake plans anything.

- **One engine at a time.** DVC deletes a stage's outputs before it runs the stage, so a `dvc repro`
  beside a Snakemake run in the same checkout deletes files the other engine is reading. Snakemake
  holds DVC's own repository lock (`.dvc/tmp/lock`, an flock as DVC takes it) while it runs, so a
  `dvc repro` started meanwhile is refused by DVC ("Unable to acquire lock"). DVC releases that lock
  while a stage's command runs, so every stage and Snakemake also hold an engine lock of our own
  (`blockbench.cli.hold_engine_lock`): a Snakemake started while a DVC stage runs, or while another
  Snakemake or its jobs run, stops with one line naming what runs; a DVC stage started while a
  Snakemake job runs (its Snakemake killed) stops too. Snakemake's stages end with their job's
  shell (`cli.die_with_parent`).
- **data/ first.** A clone has every trained run but no data/ (rebuilt, not in git). Snakemake
  reruns every job downstream of a job it must run unless the link is `ancient()` *and the file
  exists*, so with data/ missing, one edited run would plan every run's training; and a data job
  it must rerun (after a code edit every stage imports) hides the trainings behind it. Bringing
  the raw data and splits up to date before the DAG is planned (the same stage scripts, in a
  subprocess) leaves only the runs a change touches.

The standard library and blockbench.cli only: the Snakefile imports this while it parses.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import cli, paths
from .errors import BlockbenchError

DVC_LOCK = Path(".dvc") / "tmp" / "lock"
_held: list = []  # the open lock file, kept for the life of the process


def one_engine_at_a_time(main_process: bool, root: Path = Path(".")) -> None:
    """Mark the stages this Snakemake starts as Snakemake's (an environment variable its jobs
    inherit); in the main process, hold Snakemake's engine lock and DVC's repository lock until it
    exits. Raises BlockbenchError while a DVC command or stage, or another Snakemake, runs."""
    os.environ[cli.ENGINE_ENV] = "snakemake"
    if main_process and cli.hold_engine_lock("snakemake", root, alone=True):
        hold_dvc_lock(root)


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


def _older(path: Path, *keys: Path) -> bool:
    """Missing, or older than one of the files it is made from (as Snakemake's mtime rule)."""
    if not path.is_file():
        return True
    mtime = path.stat().st_mtime
    return any(k.is_file() and k.stat().st_mtime > mtime for k in keys)


def _run(command: list[str], root: Path) -> None:
    python = shutil.which("python") or sys.executable
    print(f"blockbench: python {' '.join(command)}", file=sys.stderr, flush=True)
    proc = subprocess.run(
        [python, *command], cwd=root, stdout=sys.stderr, stderr=subprocess.PIPE, text=True
    )
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"]
        raise BlockbenchError(f"building data/ failed: python {' '.join(command)}: {lines[-1]}")


def update_data(dataset: str, splits: list[str], root: Path = Path(".")) -> int:
    """Run the download and split stages where their outputs are missing or older than what they
    are made from (the stage's code fingerprint, the split's config, the raw data); returns how
    many stage commands ran. A failing stage raises BlockbenchError with its own last line.

    Why before planning: Snakemake does not plan a job that depends on a job it must rerun
    through an existing `ancient()` file, *and* it no longer judges that job by its own inputs
    (it masks it behind the rerun), so a data job in the DAG would hide every training behind it;
    a missing file (a fresh clone) instead makes every training behind it rerun."""
    raw, info = root / paths.raw(dataset), root / paths.raw_info(dataset)
    stamps = root / paths.RESULTS / "code"
    ran = 0

    def announce() -> None:
        if not ran:
            print(
                "blockbench: data/ is missing or out of date (a fresh clone?): building it before "
                "Snakemake plans, so that no committed run looks out of date",
                file=sys.stderr,
                flush=True,
            )

    if _older(raw, stamps / "download.sha256") or _older(info, stamps / "download.sha256"):
        announce()
        _run(["workflow/scripts/download.py"], root)
        ran += 1
    for split in splits:
        keys = (root / paths.split_config(split), stamps / "split.sha256", raw)
        if _older(root / paths.prepared(split), *keys):
            announce()
            _run(["workflow/scripts/split.py", "--split", split], root)
            ran += 1
    return ran


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
