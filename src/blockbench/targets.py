"""The targets named on a Snakemake command line, checked against params.yaml before Snakemake
plans anything: `snakemake results/runs/nope/metrics.json` stops with one line naming the unknown
run and the nearest known ones (exit 2), where Snakemake's input functions would raise a KeyError
deep in a traceback (exit 1). Only the Snakefile imports this module."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .params import nearest
from .storage import write_text

# target path -> what its first variable part names
PATTERNS = (
    (re.compile(r"^(?:\./)?results/runs/([^/]+)(?:/|$)"), "run"),
    (re.compile(r"^(?:\./)?results/configs/(?!splits/|benchmark/)([^/]+)\.yaml$"), "run"),
    (re.compile(r"^(?:\./)?data/prepared/([^/]+)(?:/|$)"), "split"),
    (re.compile(r"^(?:\./)?results/splits/([^/]+)(?:/|$)"), "split"),
)
SPECIAL = {"run": {"runs"}, "split": set()}  # results/configs/runs.yaml: the run list itself


def unknown_target(argv: list[str], runs, splits) -> str | None:
    """The first command-line target that names a run or split params.yaml does not declare, as
    one line with the nearest known names; None when every target is known."""
    known = {"run": set(runs), "split": set(splits)}
    for arg in argv[1:]:
        if arg.startswith("-"):
            continue
        for pattern, what in PATTERNS:
            m = pattern.match(arg)
            if not m:
                continue
            name = m[1]
            if name in known[what] or name in SPECIAL[what]:
                break
            close = nearest(name, known[what])
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            return f"{arg}: params.yaml declares no {what} {name!r}{hint}"
    return None


# The runs' committed files, per stage that writes them: a run missing any of them is rebuilt
TRAINED = ("config.yaml", "model.pt", "train.json", "history.csv")
EVALUATED = ("metrics.json", "confusion.csv", "pr.csv", "reliability.csv")
COMPLETE_STAMP = "results/code/runs_complete.stamp"
STAMP_TEXT = (
    "# Snakemake's report depends on this file. The Snakefile touches it when a run's committed\n"
    "# files are missing (a killed training, rm -r), so the report's job, and the jobs that\n"
    "# rebuild the missing files, run: Snakemake itself ignores a missing intermediate file\n"
    "# while the final output is up to date.\n"
)


def missing_runs(runs, root: Path = Path(".")) -> list[str]:
    """The runs with a trained or evaluated file missing under results/runs/<run>/."""
    out = []
    for run in runs:
        folder = root / "results" / "runs" / run
        if not all((folder / name).is_file() for name in TRAINED + EVALUATED):
            out.append(run)
    return out


def mark_incomplete(runs, root: Path = Path(".")) -> list[str]:
    """Keep the stamp (its text constant, so a clone's copy never differs) and touch it when a
    run's files are missing: newer than the report, it makes Snakemake rerun the report's job
    and so rebuild what it needs. Returns the runs found missing."""
    stamp = root / COMPLETE_STAMP
    if not stamp.is_file() or stamp.read_text() != STAMP_TEXT:
        write_text(stamp, STAMP_TEXT)
    missing = missing_runs(runs, root)
    if missing:
        os.utime(stamp)
    return missing
