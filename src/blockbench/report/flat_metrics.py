"""The metrics DVC shows: one flat file per run and the study's headline, at human size.

`dvc metrics show` lists every key of every metrics file as a column; each run's full
metrics.json has about 900 nested keys. The aggregate stage writes instead
`results/metrics/<run>.json` with the numbers a user compares between runs, and
`results/headline.json` with the primary comparisons; dvc.yaml declares these as metrics (the full
metrics.json stays an output of evaluate).
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..storage import write_json
from . import statistics
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
    """Per primary comparison (short name): its difference (first run minus second, in the
    metric's unit: a fraction, or ln of the time ratio), the verdict as a number (+1 different
    and higher, -1 different and lower, 0 equivalent, null inconclusive: DVC compares numbers) and
    the seeds it used. `dvc exp show --drop '.*' --keep 'Experiment|architecture|training_speed|
    remedy\\..*|reference\\..*'` shows the differences in 120 columns."""
    out = {}
    for key, c in study.family.items.items():
        if c.family != "primary":
            continue
        name = headline_id(study, c.a, c.b, c.metric) or key
        code = None
        if statistics.is_different(c.verdict):
            code = 1 if c.result["diff"] > 0 else -1
        elif c.verdict == statistics.EQUIVALENT:
            code = 0
        out[name] = c.result["diff"]
        out[f"verdict.{name}"] = code
        out[f"seeds.{name}"] = c.result["n"]
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
