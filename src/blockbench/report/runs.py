"""Runs and groups: what the aggregate stage reads of each run, and a configuration's seeds.

A `Run` is one trained model's files (train.json, history.csv, metrics.json, confusion.csv, its
split's counts.json). A `Group` is a logical run and its seed replicates (`replicate_seeds`):
every number the report prints about a configuration is a statistic over its group.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import N_CLASSES, paths
from ..errors import BlockbenchError
from ..params import logical_runs, replicates, run_config
from ..storage import read_json
from . import statistics


@dataclass
class Run:
    name: str
    cfg: dict
    train: dict
    metrics: dict
    history: pd.DataFrame
    y_true: np.ndarray  # per test image: the actual class
    y_pred: np.ndarray  # per test image: the predicted class
    split: dict  # the split's counts.json

    @property
    def seed(self) -> int:
        return self.cfg["seed"]

    @property
    def correct(self) -> np.ndarray:
        return self.y_true == self.y_pred

    @property
    def minority(self) -> list[int]:
        return self.metrics["minority_classes"]


_NUMBER = {"type": "number"}
_CLASSES = [str(c) for c in range(N_CLASSES)]
_RATES = {  # evaluation.shift_rates
    "type": "object",
    "required": ["accuracy", "minority_recall_mean", "majority_as_minority"],
}
# What the report reads of the files the evaluate and train stages write: a file that lacks it
# (`{}`, `[]`, another program's JSON) stops the aggregate before it writes anything.
METRICS_SCHEMA = {
    "type": "object",
    "required": [
        "accuracy",
        "balanced_accuracy",
        "macro_avg",
        "per_class",
        "roc_auc_macro_ovr",
        "roc_auc",
        "average_precision",
        "ece",
        "minority_classes",
        "minority_recall_mean",
        "majority_recall_mean",
        "validation",
        "clean_test",
        "transformed_test",
    ],
    "properties": {
        "accuracy": _NUMBER,
        "balanced_accuracy": _NUMBER,
        "macro_avg": {"type": "object", "required": ["f1-score"]},
        "per_class": {
            "type": "object",
            "required": _CLASSES,
            "additionalProperties": {"type": "object", "required": ["precision", "recall"]},
        },
        "roc_auc_macro_ovr": _NUMBER,
        "roc_auc": {"type": "object", "required": _CLASSES},
        "average_precision": {
            "type": "object",
            "required": ["macro", "per_class"],
            "properties": {"per_class": {"type": "object", "required": _CLASSES}},
        },
        "ece": _NUMBER,
        "minority_classes": {"type": "array", "items": {"type": "integer"}},
        "minority_recall_mean": {"type": ["number", "null"]},
        "majority_recall_mean": _NUMBER,
        "validation": {"type": "object", "required": ["balanced_accuracy"]},
        "clean_test": _RATES,
        "transformed_test": _RATES,
    },
}
TRAIN_SCHEMA = {
    "type": "object",
    "required": [
        "parameters",
        "macs_per_image",
        "seconds_per_epoch",
        "selected_epoch",
        "selected",
        "n_train",
        "dataset",
        "inference",
    ],
    "properties": {
        "selected": {"type": "object", "required": ["val_loss"]},
        "inference": {"type": "object", "required": ["seconds_per_image"]},
    },
}
CONFUSION_COLUMNS = ("actual", "predicted")
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "train_acc", "val_acc")


def _fix(rel: Path, stage: str, name: str) -> str:
    return (
        f"delete it and rerun `dvc repro -s {stage}@{name}` (or `snakemake --cores 2 {rel}`); "
        "nothing was written"
    )


def _read_checked_json(root: Path, rel: Path, schema: dict, stage: str, name: str, run=None):
    """A stage's JSON output, checked against `schema` (and, where it names its run, `run`)."""
    import jsonschema

    data = read_json(root / rel)
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(data)
    )
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "the top level"
        if error.validator == "type":
            want = error.validator_value
            what = f"{where} is not {' or '.join(want) if isinstance(want, list) else want}"
        else:
            what = f"{where}: {error.message[:120]}"
        raise BlockbenchError(
            f"{root / rel}: not the {rel.name} {stage} writes ({what}); " + _fix(rel, stage, name)
        )
    if run is not None and data.get("run", run) != run:
        raise BlockbenchError(
            f"{root / rel}: written for run {str(data['run'])[:40]!r}, not {run!r}; "
            + _fix(rel, stage, name)
        )
    return data


def _read_checked_csv(root: Path, rel: Path, columns: tuple, stage: str, name: str):
    """A stage's CSV output with at least one row and `columns`."""
    try:
        table = pd.read_csv(root / rel)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        what = " ".join(str(exc).split())[:120]
        raise BlockbenchError(
            f"{root / rel}: not a readable CSV ({what}); " + _fix(rel, stage, name)
        ) from None
    missing = [c for c in columns if c not in table.columns]
    if missing or table.empty:
        what = f"no column {', '.join(missing)}" if missing else "no rows"
        raise BlockbenchError(f"{root / rel}: {what}; " + _fix(rel, stage, name))
    return table


def load_run(params: dict, name: str, root: Path) -> Run:
    """One run's files, each checked: a file the report cannot read stops it in one line naming
    the file and the command that rebuilds it."""
    cfg = run_config(params, name)
    # one row per test image: actual, predicted
    pred = _read_checked_csv(root, paths.confusion(name), CONFUSION_COLUMNS, "evaluate", name)
    return Run(
        name,
        cfg,
        _read_checked_json(root, paths.train_info(name), TRAIN_SCHEMA, "train", name, run=name),
        _read_checked_json(root, paths.metrics(name), METRICS_SCHEMA, "evaluate", name, run=name),
        _read_checked_csv(root, paths.history(name), HISTORY_COLUMNS, "train", name),
        pred["actual"].to_numpy(),
        pred["predicted"].to_numpy(),
        read_json(root / paths.split_counts(cfg["split"])),
    )


class Group:
    """A logical run and its seed replicates."""

    def __init__(self, name: str, runs: list[Run]):
        self.name, self.runs = name, runs

    @property
    def first(self) -> Run:
        return self.runs[0]

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def cfg(self) -> dict:
        return self.first.cfg

    @property
    def blocks(self) -> str:
        return f"C{self.cfg['n_conv']}+M{self.cfg['n_mobilenet']}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.blocks})"

    def on_seeds(self, seeds) -> "Group":
        """The same group at the runs whose seed is in `seeds` (in this group's order)."""
        keep = set(seeds)
        return Group(self.name, [r for r in self.runs if r.seed in keep])

    def by_seed(self, get) -> dict[int, float]:
        return {r.seed: float(get(r)) for r in self.runs}

    def values(self, get) -> np.ndarray:
        return np.array([get(r) for r in self.runs], dtype=float)

    def mean(self, get) -> float:
        return float(self.values(get).mean())

    def describe(self, get) -> dict:
        return statistics.describe(self.values(get))

    def interval(self, get) -> dict:
        """The mean of a rate in [0, 1] over the seeds with its 95% interval kept inside [0, 1];
        where every seed gives the same value, the exact interval of the counts pooled over the
        seeds (accuracy: test images right; minority recall: minority test images found)."""
        counts = POOLED.get(get)
        pooled = None
        if counts is not None:
            k, n = zip(*(counts(r) for r in self.runs))
            pooled = (int(sum(k)), int(sum(n)))
        return statistics.bounded(self.values(get), 0.0, 1.0, pooled)


def load_groups(params: dict, root: Path, leave_out=frozenset()) -> dict[str, Group]:
    """Every logical run of params.yaml with its replicates, in params order; the runs named in
    `leave_out` are not read (an interim report), and a logical run left with none is absent."""
    groups = {
        name: Group(
            name,
            [load_run(params, r, root) for r in replicates(params, name) if r not in leave_out],
        )
        for name in logical_runs(params)
    }
    return {name: g for name, g in groups.items() if g.n}


# ------------------------------------------------------------------ what the report reads of a run
def accuracy(r: Run) -> float:
    return r.metrics["accuracy"]


def balanced_accuracy(r: Run) -> float:
    return r.metrics["balanced_accuracy"]


def macro_f1(r: Run) -> float:
    return r.metrics["macro_avg"]["f1-score"]


def minority_recall(r: Run) -> float:
    return r.metrics["minority_recall_mean"]


def majority_recall(r: Run) -> float:
    return r.metrics["majority_recall_mean"]


def minority_precision(r: Run) -> float:
    return float(np.mean([r.metrics["per_class"][str(c)]["precision"] for c in r.minority]))


def average_precision(r: Run) -> float:
    return r.metrics["average_precision"]["macro"]


def minority_ap(r: Run) -> float:
    return float(np.mean([r.metrics["average_precision"]["per_class"][str(c)] for c in r.minority]))


def ece(r: Run) -> float:
    return r.metrics["ece"]


def auc_macro(r: Run) -> float:
    return r.metrics["roc_auc_macro_ovr"]


def _accuracy_counts(r: Run) -> tuple[int, int]:
    return int(r.correct.sum()), len(r.correct)


def _minority_counts(r: Run) -> tuple[int, int]:
    rare = np.isin(r.y_true, r.minority)
    return int((r.correct & rare).sum()), int(rare.sum())


# (successes, trials) of a rate, for the exact interval where every seed gives the same value
POOLED = {accuracy: _accuracy_counts, minority_recall: _minority_counts}


def val_balanced_accuracy(r: Run) -> float:
    return r.metrics["validation"]["balanced_accuracy"]


def seconds_per_epoch(r: Run) -> float:
    return r.train["seconds_per_epoch"]


def inference_us(r: Run) -> float:
    return 1e6 * r.train["inference"]["seconds_per_image"]


def val_loss_jump(r: Run) -> float:
    """Median epoch-to-epoch change of the validation loss over the second half of training (at
    least the last two epochs): how much the optimisation still jumps around."""
    v = r.history["val_loss"].to_numpy()
    return float(np.median(np.abs(np.diff(v[min(len(v) // 2, len(v) - 2) :]))))


def last(column: str):
    """The value of a history column at the last epoch."""

    def get(r: Run) -> float:
        return float(r.history[column].iloc[-1])

    return get


def class_metric(cls: int | str, key: str):
    def get(r: Run) -> float:
        return r.metrics["per_class"][str(cls)][key]

    return get


def class_ap(cls: int | str):
    def get(r: Run) -> float:
        return r.metrics["average_precision"]["per_class"][str(cls)]

    return get


def class_auc(cls: int | str):
    def get(r: Run) -> float:
        return r.metrics["roc_auc"][str(cls)]

    return get


def probe(which: str, key: str):
    """A rate of the clean or transformed test set (`clean_test` / `transformed_test`)."""

    def get(r: Run) -> float:
        return r.metrics[which][key]

    return get
