"""Where every stage reads and writes: one place shared by the stages, the Snakefile and dvc.yaml."""

from __future__ import annotations

from pathlib import Path

DATA = Path("data")
RESULTS = Path("results")
CACHE = DATA / "cache"


def raw(dataset: str) -> Path:
    return DATA / "raw" / f"{dataset}.npz"


def raw_info(dataset: str) -> Path:
    return DATA / "raw" / f"{dataset}.json"


def prepared(split: str) -> Path:
    return DATA / "prepared" / split / "split.npz"


def split_counts(split: str) -> Path:
    return RESULTS / "splits" / split / "counts.json"


def split_figure(split: str) -> Path:
    return RESULTS / "splits" / split / "class_distribution.png"


def run_dir(run: str) -> Path:
    return RESULTS / "runs" / run


def model(run: str) -> Path:
    return run_dir(run) / "model.pt"


def history(run: str) -> Path:
    return run_dir(run) / "history.csv"


def train_info(run: str) -> Path:
    return run_dir(run) / "train.json"
