"""The metrics DVC shows: one flat file per run and the study's headline, at human size.

`dvc metrics show` lists every key of every metrics file as a column; each run's full
metrics.json has about 900 nested keys. The aggregate stage writes instead
`results/metrics/<run>.json` with the numbers a user compares between runs, and
`results/headline.json` with the primary comparisons; dvc.yaml declares these as metrics (the full
metrics.json stays an output of evaluate).
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import paths
from ..storage import write_json
from .runs import Run, minority_ap, minority_recall

METRICS_DIR = paths.RESULTS / "metrics"
HEADLINE = paths.RESULTS / "headline.json"
# the keys of each run's flat file, in order (README, "Metrics")
RUN_KEYS = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "minority_recall",
    "minority_ap",
    "ece",
    "best_val_loss",
    "selected_epoch",
    "epochs",
    "parameters",
    "macs",
)


def run_metrics(r: Run) -> dict:
    """The flat numbers of one run (test set unless named otherwise)."""
    return {
        "accuracy": r.metrics["accuracy"],
        "balanced_accuracy": r.metrics["balanced_accuracy"],
        "macro_f1": r.metrics["macro_avg"]["f1-score"],
        "minority_recall": minority_recall(r),
        "minority_ap": minority_ap(r),
        "ece": r.metrics["ece"],
        "best_val_loss": r.train["selected"]["val_loss"],
        "selected_epoch": r.train["selected_epoch"],
        "epochs": r.cfg["epochs"],
        "parameters": r.train["parameters"],
        "macs": r.train["macs_per_image"],
    }


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def headline(summary: dict) -> dict:
    """One flat key per primary comparison (its difference, b - a, and the seeds it used) and
    the verdict as a number: +1 different and higher, -1 different and lower, 0 equivalent,
    null inconclusive (DVC compares numbers)."""
    out = {}
    for name, c in summary["comparisons"].items():
        if c.get("family") != "primary":
            continue
        key = _key(name)
        verdict = str(c.get("verdict", ""))
        code = None
        if verdict.startswith("different"):
            code = 1 if (c["difference"] or 0) > 0 else -1
        elif verdict.startswith("equivalent"):
            code = 0
        out[f"{key}.difference"] = c["difference"]
        out[f"{key}.verdict"] = code
        out[f"{key}.seeds"] = c.get("seeds")
    return out


def write(runs: list[Run], summary: dict, root: Path = Path(".")) -> None:
    """results/metrics/<run>.json for every run (files of runs no longer declared removed) and
    results/headline.json."""
    names = set()
    for r in runs:
        write_json(root / METRICS_DIR / f"{r.name}.json", run_metrics(r))
        names.add(f"{r.name}.json")
    for old in (root / METRICS_DIR).glob("*.json"):
        if old.name not in names:
            old.unlink()
    write_json(root / HEADLINE, headline(summary))
