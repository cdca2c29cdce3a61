"""The small files both engines key reruns on, rewritten only when their content changes.

- `results/configs/<run>.yaml`: a run's resolved config (`configs.resolve`); train, evaluate and
  plot of that run depend on it.
- `results/configs/splits/<split>.yaml`: a split's resolved config; its split stage depends on it.
- `results/configs/benchmark/runs.yaml`: the part of each benchmarked run's config the benchmark
  stage reads (`configs.resolve_benchmark`: network, batch size, optimizer); that stage depends
  on it.
- `results/configs/runs.yaml`: every run after grids and replicate seeds expand, with its split;
  dvc.yaml iterates over it (`foreach: ${expanded_runs}`), and the runs that get per-run figures
  (`foreach: ${plotted_runs}`).
- `results/code/<stage>.sha256`: sha256 of each file the stage runs (`codedeps`) and of each
  params section it reads (as `params.yaml:<key>` lines). Snakemake only: DVC hashes those itself.

Why files, and why written only on change: Snakemake reruns a job when an input is newer than its
outputs and keeps no record of jobs run elsewhere, so on a fresh clone neither its params trigger
nor its code trigger can fire. A file that changes exactly when a run's config (or a stage's code
or params) changes carries that information in its modification time, and the checkout order of
a clone (results/code, results/configs before results/runs) leaves every committed key older than
the outputs made from it. DVC keys on the same config files by hash.

Written by workflow/scripts/configs.py (DVC's `configs` stage; scripts/main.sh runs it first) and
by the Snakefile while it parses. No torch or pandas here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import yaml

from . import codedeps, configs, declarations, paths
from . import params as params_mod
from .storage import write_text, write_text_if_changed

HEADER = "# resolved from params.yaml by workflow/scripts/configs.py; do not edit\n"
STAMPS = paths.RESULTS / "code"
# The params sections each stage reads straight from params.yaml (the same lists as dvc.yaml's
# `params:`; train, evaluate and plot read their run's config file, split its split's file; train
# also reads `compute`, which is not part of a run's config; benchmark reads its own section and
# `compute`, and its runs' configs from results/configs/benchmark/runs.yaml).
STAGE_PARAMS = {
    "download": ["data"],
    "split": [],
    "train": ["compute"],
    "evaluate": ["evaluate"],
    "plot": [],
    "benchmark": ["benchmark", "compute"],
    "aggregate": ["study"],
}


def _dump(obj: dict, comment: str = "") -> str:
    return (
        HEADER + comment + yaml.safe_dump(obj, sort_keys=False, default_flow_style=None, width=100)
    )


def _benchmark_text(params: dict) -> str:
    return _dump(
        configs.resolve_benchmark(params),
        "# what the benchmark stage reads of the runs of params.yaml's benchmark.runs\n",
    )


def stamp_path(stage: str) -> Path:
    return STAMPS / f"{stage}.sha256"


def _lookup(params: dict, key: str):
    value = params
    for part in key.split("."):
        value = value[part]
    return value


def stamp(params: dict, stage: str, root: Path = Path(".")) -> str:
    """`sha256sum`-style lines: the stage's files, then the params sections it reads."""
    lines = [
        f"{hashlib.sha256((root / rel).read_bytes()).hexdigest()}  {rel}"
        for rel in codedeps.stage_code(stage, root)
    ]
    for key in STAGE_PARAMS[stage]:
        blob = json.dumps(_lookup(params, key), sort_keys=True).encode()
        lines.append(f"{hashlib.sha256(blob).hexdigest()}  params.yaml:{key}")
    return "\n".join(lines) + "\n"


def write(params: dict, root: Path = Path(".")) -> dict[str, str]:
    """Bring every key file of the repository at `root` up to date (an unchanged file keeps its
    modification time), after checking the study's declarations (blockbench.declarations: both
    engines refuse a bad one before planning). Returns run -> split."""
    declarations.check(params)
    runs = write_configs(params, root)
    write_stamps(params, root)
    ensure_complete_stamp(root)
    return runs


# Snakemake's report depends on this file; the Snakefile touches it when a run's committed files
# are missing (blockbench.targets.mark_incomplete)
COMPLETE_STAMP = "results/code/runs_complete.stamp"
STAMP_TEXT = (
    "# Snakemake's report depends on this file. The Snakefile touches it when a run's committed\n"
    "# files are missing (a killed training, rm -r), so the report's job, and the jobs that\n"
    "# rebuild the missing files, run: Snakemake itself ignores a missing intermediate file\n"
    "# while the final output is up to date.\n"
)


def ensure_complete_stamp(root: Path = Path(".")) -> Path:
    """The stamp with its constant text; written where absent or different with the oldest time
    there is, so that creating it reruns nothing."""
    stamp = root / COMPLETE_STAMP
    if not stamp.is_file() or stamp.read_text() != STAMP_TEXT:
        write_text(stamp, STAMP_TEXT)
        os.utime(stamp, (0, 0))
    return stamp


def write_configs(params: dict, root: Path = Path(".")) -> dict[str, str]:
    """The resolved config files and the run list; removes the files of runs and splits
    params.yaml no longer declares. Returns run -> split."""
    runs = {
        name: params_mod.run_config(params, name)["split"] for name in params_mod.run_names(params)
    }
    for name in runs:
        write_text_if_changed(root / paths.run_config(name), _dump(configs.resolve(params, name)))
    for name in params["splits"]:
        write_text_if_changed(
            root / paths.split_config(name), _dump(configs.resolve_split(params, name))
        )
    write_text_if_changed(root / paths.BENCHMARK_CONFIG, _benchmark_text(params))
    write_text_if_changed(
        root / paths.RUN_LIST,
        _dump(
            {
                "expanded_runs": {name: {"split": split} for name, split in runs.items()},
                "plotted_runs": {n: {"split": runs[n]} for n in params_mod.plotted_runs(params)},
            },
            "# every run after grids and replicate seeds expand, and the runs with per-run\n"
            "# figures: dvc.yaml iterates over them\n",
        ),
    )
    for old in (root / paths.CONFIGS).glob("*.yaml"):
        if old.stem not in runs and old != root / paths.RUN_LIST:
            old.unlink()
    for old in (root / paths.CONFIGS / "splits").glob("*.yaml"):
        if old.stem not in params["splits"]:
            old.unlink()
    return runs


def listed_runs(root: Path = Path(".")) -> list[str] | None:
    """The runs results/configs/runs.yaml lists now (what dvc.yaml's foreach read), None if the
    file is missing or unreadable."""
    try:
        data = yaml.safe_load((root / paths.RUN_LIST).read_text())
        return list(data["expanded_runs"])
    except (OSError, yaml.YAMLError, UnicodeDecodeError, TypeError, KeyError):
        return None


def _differs(path: Path, text: str) -> bool:
    try:
        return path.read_text() != text
    except (OSError, UnicodeDecodeError):
        return True


def plan(params: dict, root: Path = Path(".")) -> list[tuple[str, str]]:
    """What a params change will rerun, without writing anything: (DVC stage, why) for each run,
    split and benchmark key file that `write` would change. The stages downstream of these
    (evaluate, plot, aggregate) follow."""
    listed = listed_runs(root)
    listed = set(listed) if listed is not None else None
    runs = params_mod.run_names(params)
    out = []
    for name in params["splits"]:
        if _differs(root / paths.split_config(name), _dump(configs.resolve_split(params, name))):
            out.append((f"split@{name}", "its split config changes"))
    for name in runs:
        if listed is not None and name not in listed:
            out.append((f"train@{name}", "new run (needs a second `dvc repro`: see configs)"))
        elif _differs(root / paths.run_config(name), _dump(configs.resolve(params, name))):
            out.append((f"train@{name}", "its resolved config changes"))
    for name in sorted((listed or set()) - set(runs)):
        out.append((f"train@{name}", "removed from params.yaml (its stages go)"))
    if _differs(root / paths.BENCHMARK_CONFIG, _benchmark_text(params)):
        out.append(("benchmark", "a benchmarked run's network, batch size or optimizer changes"))
    return out


def write_stamps(params: dict, root: Path = Path(".")) -> None:
    """Snakemake's per-stage fingerprints of code and params (the code is read under `root`)."""
    for stage in STAGE_PARAMS:
        write_text_if_changed(root / stamp_path(stage), stamp(params, stage, root))
