"""dvc.yaml is generated from params.yaml, so both engines expand runs and splits the same way.

Runs are expanded by `params.run_names` (named runs, grid runs, seed replicates), the function the
Snakefile calls too. Each stage lists exactly the params keys it reads, one by one (a run's own
`runs.<name>.<key>` and grid-variant overrides plus the `train.<key>` defaults it inherits), so changing `runs.c4.lr` makes only c4 stale and changing a
`train` default makes only the runs that inherit it stale.

    python -m blockbench.dvcgen          # rewrite dvc.yaml from params.yaml
    python -m blockbench.dvcgen --check  # exit 1 with a one-line message when dvc.yaml is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from . import params as params_mod
from . import paths, report
from .errors import BlockbenchError

HEADER = ("# GENERATED from params.yaml by `python -m blockbench.dvcgen`; do not edit by hand.\n"
          "# tests/test_engines.py checks it is in sync; scripts/main.sh checks before `dvc repro`.\n")

SCRIPTS = "workflow/scripts"
# The library modules each kind of stage runs: a change to one reruns those stages (in both engines).
DOWNLOAD_LIBRARY = ["src/blockbench/datasets.py"]
SPLIT_LIBRARY = ["src/blockbench/split.py"]
TRAIN_LIBRARY = ["src/blockbench/allocator.py", "src/blockbench/models.py", "src/blockbench/remedies.py", "src/blockbench/training.py"]
EVALUATE_LIBRARY = ["src/blockbench/evaluation.py"]
PLOT_LIBRARY = ["src/blockbench/figures.py"]
AGGREGATE_LIBRARY = ["src/blockbench/report.py", "src/blockbench/stats.py", "src/blockbench/study_figures.py"]


def _nocache(path) -> dict:
    return {str(path): {"cache": False}}


def stages(params: dict) -> dict:
    dataset = params["data"]["dataset"]
    out: dict[str, dict] = {}
    out["download"] = {
        "cmd": f"python {SCRIPTS}/download.py",
        "deps": [f"{SCRIPTS}/download.py", *DOWNLOAD_LIBRARY],
        "params": ["data"],
        "outs": [str(paths.raw(dataset)), str(paths.raw_info(dataset))],
    }
    for name in params["splits"]:
        out[f"split-{name}"] = {
            "cmd": f"python {SCRIPTS}/split.py --split {name}",
            "deps": [f"{SCRIPTS}/split.py", *SPLIT_LIBRARY, str(paths.raw(dataset))],
            "params": ["data.dataset"] + params_mod.split_param_keys(params, name),
            "outs": [str(paths.prepared(name)), _nocache(paths.split_counts(name))],
            "plots": [_nocache(paths.split_figure(name))],
        }
    for name in params_mod.run_names(params):
        cfg = params_mod.run_config(params, name)
        out[f"train-{name}"] = {
            "cmd": f"python {SCRIPTS}/train.py --run {name}",
            "deps": [f"{SCRIPTS}/train.py", *TRAIN_LIBRARY, str(paths.prepared(cfg["split"]))],
            "params": params_mod.run_param_keys(params, name),
            # history.csv is drawn by the top-level plots below (loss and accuracy per epoch)
            "outs": [str(paths.model(name)), _nocache(paths.train_info(name)), _nocache(paths.history(name))],
        }
        out[f"evaluate-{name}"] = {
            "cmd": f"python {SCRIPTS}/evaluate.py --run {name}",
            "deps": [f"{SCRIPTS}/evaluate.py", *EVALUATE_LIBRARY, str(paths.model(name)),
                     str(paths.prepared(cfg["split"]))],
            "params": [f"splits.{cfg['split']}", "split.minority_classes", "evaluate"],
            "outs": [str(paths.predictions(name)), _nocache(paths.confusion(name)), _nocache(paths.roc(name))],
            "metrics": [_nocache(paths.metrics(name))],
        }
        out[f"plot-{name}"] = {
            "cmd": f"python {SCRIPTS}/plot.py --run {name}",
            "deps": [f"{SCRIPTS}/plot.py", *PLOT_LIBRARY, str(paths.model(name)), str(paths.history(name)),
                     str(paths.train_info(name)), str(paths.metrics(name)), str(paths.predictions(name)),
                     str(paths.prepared(cfg["split"]))],
            "outs": [_nocache(paths.figures_dir(name) / f"{f}.png") for f in paths.RUN_FIGURES]
            + [_nocache(paths.filters_dir(name))],
        }
    out["aggregate"] = {
        "cmd": f"python {SCRIPTS}/aggregate.py",
        "deps": [f"{SCRIPTS}/aggregate.py", *AGGREGATE_LIBRARY, *aggregate_inputs(params)],
        "params": ["study"],
        "outs": [_nocache(report.SUMMARY), _nocache(report.TABLES), _nocache(report.FIGURES)],
        "metrics": [_nocache(report.SUMMARY_JSON)],
    }
    return {"stages": out, "plots": plots(params)}


def aggregate_inputs(params: dict) -> list[str]:
    """Every run file the report reads (both engines use this list)."""
    names = dict.fromkeys(rep for _, r in params_mod.study_runs(params) for rep in params_mod.replicates(params, r))
    files = []
    for name in names:
        cfg = params_mod.run_config(params, name)
        figs = paths.run_figures(name, cfg)
        files += [paths.train_info(name), paths.history(name), paths.metrics(name), paths.predictions(name),
                  paths.split_counts(cfg["split"]), paths.split_figure(cfg["split"])]
        files += [figs[k] for k in ("loss", "accuracy", "confusion", "roc", "tsne")]
    return [str(f) for f in dict.fromkeys(files)]


def plots(params: dict) -> list[dict]:
    """Top-level plot definitions for `dvc plots show` / `dvc plots diff`."""
    defs = []
    for name in params_mod.run_names(params):
        history = str(paths.history(name))
        defs.append({f"loss-{name}": {"title": f"{name}: loss per epoch", "x": "epoch",
                                      "y": {history: ["train_loss", "val_loss"]}}})
        defs.append({f"accuracy-{name}": {"title": f"{name}: accuracy per epoch", "x": "epoch",
                                          "y": {history: ["train_acc", "val_acc"]}}})
        defs.append({f"confusion-{name}": {"title": f"{name}: test confusion (row-normalised)",
                                           "template": "confusion_normalized", "x": "predicted",
                                           "y": {str(paths.confusion(name)): "actual"}}})
        defs.append({f"roc-{name}": {"title": f"{name}: one-vs-rest ROC (test)", "template": "roc",
                                     "x": "fpr", "y": {str(paths.roc(name)): "tpr"}}})
        defs.append({str(paths.figures_dir(name)): {}})
    return defs


def render(params: dict) -> str:
    return HEADER + yaml.safe_dump(stages(params), sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default=params_mod.DEFAULT_PARAMS)
    p.add_argument("--output", default="dvc.yaml")
    p.add_argument("--check", action="store_true", help="only check that the file is up to date")
    args = p.parse_args(argv)
    try:
        text = render(params_mod.load(args.params))
    except BlockbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    target = Path(args.output)
    if args.check:
        if not target.exists() or target.read_text() != text:
            print(f"error: {target} is out of date with {args.params}; run `python -m blockbench.dvcgen`",
                  file=sys.stderr)
            return 1
        return 0
    from .storage import write_text
    write_text(target, text)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
