"""The metrics DVC shows: the study's headline at human size, and one flat file per run.

`dvc metrics show` and `dvc exp show` list every key of every declared metrics file as a column;
each run's full metrics.json has about 900 nested keys, and a flat file per run still makes
hundreds of rows and thousands of columns. dvc.yaml therefore declares one metrics file,
`results/headline.json`: the difference of each primary comparison, one number each, so
`dvc metrics show` is one row that fits a terminal and `dvc metrics diff` shows what an edit moved.
The aggregate stage also writes `results/metrics/<run>.json`, the numbers a user compares between
runs, as a plain output: `dvc metrics diff --targets results/metrics` lists the numbers of the
runs an edit changed, `dvc metrics show results/metrics/c4.json` one run's (DVC reads any JSON
file named on its command line). The full metrics.json stays an output of evaluate.
"""

from __future__ import annotations

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


def headline_id(study, a: str, b: str, metric: str) -> str | None:
    """A primary comparison's short name: `architecture`, `training_speed`, `remedy.<base>` (the
    remedy chosen for that architecture vs none), `reference.<base>` (vs the balanced reference)."""
    if "time" in metric:
        return "training_speed"
    if {a, b} == {study.study["mobilenet"], study.study["plain"]}:
        return "architecture"
    for base, variants in study.remedies.items():
        if b == base:
            return f"remedy.{base}"
        if b == variants.get(study.reference):
            return f"reference.{base}"
    return None


def headline(study) -> dict:
    """Per primary comparison (short name): its difference, first run minus second, in the
    metric's unit (a fraction, or ln of the time ratio). Its verdict, seeds and intervals are in
    results/tables/primary.csv; one number per comparison keeps `dvc metrics show` one short row
    (README, "What DVC shows": the `dvc exp show` flags that show them beside each experiment)."""
    out = {}
    for key, c in study.family.items.items():
        if c.family == "primary":
            out[headline_id(study, c.a, c.b, c.metric) or key] = c.result["diff"]
    return out


def write(runs: list[Run], study, root: Path = Path(".")) -> None:
    """results/metrics/<run>.json for every run (files of runs no longer declared removed) and
    results/headline.json."""
    names = set()
    for r in runs:
        write_json(root / METRICS_DIR / f"{r.name}.json", run_metrics(r))
        names.add(f"{r.name}.json")
    for old in (root / METRICS_DIR).glob("*.json"):
        if old.name not in names:
            old.unlink()
    write_json(root / HEADLINE, headline(study))
