"""The targets named on a Snakemake command line, checked against params.yaml before Snakemake
plans anything: `snakemake results/runs/nope/metrics.json` stops with one line naming the unknown
run and the nearest known ones (exit 2), where Snakemake's input functions would raise a KeyError
deep in a traceback (exit 1). Only the Snakefile imports this module."""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import keys
from .params import nearest

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
COMPLETE_STAMP = keys.COMPLETE_STAMP
STAMP_TEXT = keys.STAMP_TEXT


def missing_runs(runs, root: Path = Path(".")) -> list[str]:
    """The runs with a trained or evaluated file missing under results/runs/<run>/."""
    out = []
    for run in runs:
        folder = root / "results" / "runs" / run
        if not all((folder / name).is_file() for name in TRAINED + EVALUATED):
            out.append(run)
    return out


def mark_incomplete(runs, root: Path = Path(".")) -> list[str]:
    """Keep the stamp (its text constant) and touch it when a run's files are missing: newer
    than the report, it makes Snakemake rerun the report's job and so rebuild what it needs.
    Written where it is absent (a checkout that lacks it) with the oldest time there is, so that
    its mere creation never reruns anything. Returns the runs found missing."""
    stamp = keys.ensure_complete_stamp(root)
    missing = missing_runs(runs, root)
    if missing:
        os.utime(stamp)
    return missing
