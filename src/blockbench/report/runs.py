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

from .. import paths
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


def load_run(params: dict, name: str, root: Path) -> Run:
    cfg = run_config(params, name)
    pred = pd.read_csv(root / paths.confusion(name))  # one row per test image: actual, predicted
    return Run(
        name,
        cfg,
        read_json(root / paths.train_info(name)),
        read_json(root / paths.metrics(name)),
        pd.read_csv(root / paths.history(name)),
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


def load_groups(params: dict, root: Path) -> dict[str, Group]:
    """Every logical run of params.yaml with its replicates, in params order."""
    return {
        name: Group(name, [load_run(params, r, root) for r in replicates(params, name)])
        for name in logical_runs(params)
    }


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
