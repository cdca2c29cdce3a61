"""One resolved config file per run: what both engines key a run's train stage on (read side).

`results/configs/<run>.yaml` holds everything that decides a run's weights apart from code and
data: the dataset, the split's resolved config and the run's resolved train config (defaults,
run, grid variant and replicate seed merged by `params.run_config`). A file is rewritten only
when its content changes, so editing one run's `lr` in params.yaml changes exactly the files of
that run, its seed replicates and the grid runs built on it, and both engines retrain exactly
those (DVC by the file's hash, Snakemake by its modification time). `results/configs/runs.yaml`
is the run list that dvc.yaml's `foreach` iterates over.

`blockbench.keys` writes the files (workflow/scripts/configs.py: DVC's `configs` stage, which
scripts/main.sh runs first; and the Snakefile while it parses); the stages read them through here
and refuse a file that is out of date with params.yaml.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from . import params as params_mod
from . import paths
from .errors import BlockbenchError


def resolve(params: dict, run: str) -> dict:
    """The resolved config of one run: the file's content."""
    cfg = params_mod.run_config(params, run)
    return {
        "run": run,
        "dataset": params["data"]["dataset"],
        "split": {"name": cfg["split"], **params_mod.split_config(params, cfg["split"])},
        "train": cfg,
    }


def resolve_split(params: dict, split: str) -> dict:
    """The resolved config of one split: the content of results/configs/splits/<split>.yaml."""
    return {
        "dataset": params["data"]["dataset"],
        "name": split,
        **params_mod.split_config(params, split),
    }


# What the benchmark stage reads of a run's config: its network, batch size and optimizer. It
# trains on random images with plain cross-entropy, so the data, split, loss, remedy, epochs and
# seed do not enter, and editing them does not rerun it.
BENCHMARK_KEYS = (
    "n_conv",
    "n_mobilenet",
    "widths",
    "strides",
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
)


def benchmark_configs(params: dict, runs: list[str]) -> dict[str, dict]:
    """Run -> the part of its resolved train config the benchmark reads (`BENCHMARK_KEYS`)."""
    out = {}
    for run in runs:
        cfg = params_mod.run_config(params, run)
        out[run] = copy.deepcopy({k: cfg[k] for k in BENCHMARK_KEYS})  # no shared lists
    return out


def resolve_benchmark(params: dict) -> dict:
    """The content of results/configs/benchmark/runs.yaml: what the benchmark stage keys on, in
    both engines, besides its params sections (`benchmark`, `compute`)."""
    return {"runs": benchmark_configs(params, params["benchmark"]["runs"])}


def _read(path: Path, expected: dict | None) -> dict:
    """A resolved config file, with one-line errors; with `expected`, it must equal it."""
    fix = "run `python workflow/scripts/configs.py`"
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise BlockbenchError(f"{path}: not found; {fix}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise BlockbenchError(f"{path}: corrupt YAML; delete it and {fix}") from None
    if not isinstance(data, dict):
        raise BlockbenchError(f"{path}: not a resolved config; delete it and {fix}")
    if expected is not None and data != expected:
        raise BlockbenchError(f"{path} is out of date with params.yaml; {fix}")
    return data


def read_current(params: dict, run: str, root: Path = Path(".")) -> dict:
    """A run's config file, checked against params.yaml: a stage never runs on a stale file."""
    return _read(root / paths.run_config(run), resolve(params, run))


def read_trained(params: dict, run: str, root: Path = Path(".")) -> dict:
    """The config the run's model was trained with (results/runs/<run>/config.yaml), checked
    against params.yaml: evaluate and plot never describe a model with another run's config."""
    expected = resolve(params, run)  # an unknown run name fails here, naming the known ones
    path = root / paths.trained_config(run)
    if not path.is_file():
        raise BlockbenchError(f"{path}: not found; run the train stage of {run} first")
    data = _read(path, None)
    if data != expected:
        raise BlockbenchError(
            f"{path}: the model was trained with another config than params.yaml "
            f"resolves for {run}; rerun its train stage"
        )
    return data


def read_split_current(params: dict, split: str, root: Path = Path(".")) -> dict:
    """A split's config file, checked against params.yaml."""
    return _read(root / paths.split_config(split), resolve_split(params, split))


def read_benchmark_current(params: dict, root: Path = Path(".")) -> dict:
    """The benchmarked runs' config file, checked against params.yaml."""
    return _read(root / paths.BENCHMARK_CONFIG, resolve_benchmark(params))
