"""Where every stage reads and writes: one place shared by the stages and the Snakefile.

dvc.yaml spells the same paths out literally; tests/test_engines.py runs both engines on them.
Git keeps everything under results/ (trained weights included: they are small); data/ is rebuilt.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path("data")
RESULTS = Path("results")
CACHE = DATA / "cache"
CONFIGS = RESULTS / "configs"
RUN_LIST = CONFIGS / "runs.yaml"
SUMMARY = RESULTS / "summary.md"
SUMMARY_JSON = RESULTS / "summary.json"
SUMMARY_HTML = RESULTS / "summary.html"  # the same report as one HTML page (Snakemake's report)
TABLES = RESULTS / "tables"
FIGURES = RESULTS / "study_figures"  # sorts after runs/ and splits/: see blockbench.keys
# The benchmark stage's timings. The name sorts after code/ and configs/ (its keys) and before
# study_figures/, summary.* and tables/ (the report made from it): a clone writes files in path
# order, and Snakemake keys on modification times (see blockbench.keys).
BENCHMARK = RESULTS / "speed"
BENCHMARK_CONFIG = CONFIGS / "benchmark" / "runs.yaml"  # the benchmarked runs' resolved configs


def run_config(run: str) -> Path:
    """The run's resolved config (written by `blockbench.keys`)."""
    return CONFIGS / f"{run}.yaml"


def split_config(split: str) -> Path:
    """The split's resolved config (written by `blockbench.keys`)."""
    return CONFIGS / "splits" / f"{split}.yaml"


def benchmark(run: str) -> Path:
    """The benchmark stage's timings of one run's architecture."""
    return BENCHMARK / f"{run}.json"


def raw(dataset: str) -> Path:
    return DATA / "raw" / f"{dataset}.npz"


def raw_info(dataset: str) -> Path:
    return DATA / "raw" / f"{dataset}.json"


def prepared(split: str) -> Path:
    return DATA / "prepared" / split / "split.npz"


def checkpoint(run: str) -> Path:
    """The train stage's resume point: under data/ (git-ignored) and outside every declared output,
    which DVC deletes before a stage runs; removed once the run's outputs are written."""
    return DATA / "checkpoints" / f"{run}.pt"


def split_counts(split: str) -> Path:
    return RESULTS / "splits" / split / "counts.json"


def split_figure(split: str) -> Path:
    return RESULTS / "splits" / split / "class_distribution.png"


def run_dir(run: str) -> Path:
    return RESULTS / "runs" / run


def model(run: str) -> Path:
    return run_dir(run) / "model.pt"


def trained_config(run: str) -> Path:
    """The resolved config a run's model was trained with (a copy the train stage writes)."""
    return run_dir(run) / "config.yaml"


def history(run: str) -> Path:
    return run_dir(run) / "history.csv"


def train_info(run: str) -> Path:
    return run_dir(run) / "train.json"


def metrics(run: str) -> Path:
    return run_dir(run) / "metrics.json"


def confusion(run: str) -> Path:
    return run_dir(run) / "confusion.csv"


def roc(run: str) -> Path:
    return run_dir(run) / "roc.csv"


def pr(run: str) -> Path:
    return run_dir(run) / "pr.csv"


def reliability(run: str) -> Path:
    return run_dir(run) / "reliability.csv"


def figures_dir(run: str) -> Path:
    return run_dir(run) / "figures"


RUN_FIGURES = ("loss", "accuracy", "confusion", "per_class", "roc", "tsne", "correct", "wrong")


def filter_kinds(cfg: dict) -> tuple[str, ...]:
    """The filter figures of a run's last block: depthwise and pointwise, or plain conv."""
    return ("depthwise", "pointwise") if cfg["n_mobilenet"] > 0 else ("conv",)


def filters_dir(run: str) -> Path:
    """The filter figures' folder: its files depend on the block type."""
    return figures_dir(run) / "filters"


def run_figures(run: str, cfg: dict) -> dict[str, Path]:
    """Every figure the plot stage writes for a run, by name."""
    out = {name: figures_dir(run) / f"{name}.png" for name in RUN_FIGURES}
    out.update({f"filters_{k}": filters_dir(run) / f"{k}.png" for k in filter_kinds(cfg)})
    return out
