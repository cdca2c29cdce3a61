"""Stage evaluate: test-set metrics, per-image predictions, ROC, precision-recall and reliability
tables of one run, and the validation metrics the study chooses remedies by.

Every output is a pure function of the model and the test set (no timings: those live in
train.json), so an evaluation rerun on another machine writes the same bytes.

Before anything is computed it checks what it reads: the model must be the run's (the config
stored in model.pt equals the run's trained config), and the test and validation images must be
what the download and split stages write (uint8 N x 28 x 28 images, int64 labels 0-9, every class
in the test set). Every output is computed before the first is written, so a failure leaves the
run's previous outputs as they were."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import N_CLASSES, configs, evaluation, paths
from ..errors import BlockbenchError
from ..models import load_checkpoint
from ..storage import atomic_path, load_npz, write_json


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


def check_model(ckpt: dict, cfg: dict, run: str, path: Path) -> None:
    """The checkpoint must hold the run's own trained config and its input scaling."""
    stored = ckpt.get("config")
    if stored != cfg:
        stored = stored if isinstance(stored, dict) else {}
        diff = [k for k in sorted(set(stored) | set(cfg)) if stored.get(k) != cfg.get(k)]
        shown = "; ".join(
            f"{k}: {_short(stored.get(k))} in the model, {_short(cfg.get(k))} for {run}"
            for k in diff[:3]
        ) + (f"; {len(diff) - 3} more" if len(diff) > 3 else "")
        raise BlockbenchError(
            f"{path} is not {run}'s model: it was trained with another config ({shown}); "
            f"nothing was written; retrain it: `dvc repro -s -f train@{run}` "
            f"(or `snakemake --cores 2 -f {paths.model(run)}`)"
        )
    missing = [k for k in ("input_mean", "input_std") if k not in ckpt]
    if missing:
        raise BlockbenchError(
            f"{path}: no {' or '.join(missing)} recorded; nothing was written; retrain it: "
            f"`dvc repro -s -f train@{run}` (or `snakemake --cores 2 -f {paths.model(run)}`)"
        )


def check_images(arrays: dict, part: str, path: Path, fix: str, every_class: bool) -> None:
    """x_<part> uint8 N x 28 x 28 (N > 0), y_<part> int64 of length N with labels 0-9 (all of
    them with `every_class`), else one line naming the file and `fix`."""
    x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
    problem = None
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) == 0:
        problem = f"x_{part} is {x.dtype} {x.shape}, not uint8 N x 28 x 28 images"
    elif y.dtype != np.int64 or y.shape != (len(x),):
        problem = f"y_{part} is {y.dtype} {y.shape}, not {len(x)} int64 labels"
    elif y.min() < 0 or y.max() >= N_CLASSES:
        problem = f"y_{part} has labels outside 0-{N_CLASSES - 1} ({y.min()} to {y.max()})"
    elif every_class and (absent := sorted(set(range(N_CLASSES)) - set(np.unique(y).tolist()))):
        problem = f"y_{part} lacks class {', '.join(map(str, absent))}; metrics need every class"
    if problem:
        raise BlockbenchError(f"{path}: {problem}; nothing was written; {fix}")


def run(params: dict, run: str, root: Path = Path(".")) -> None:
    import pandas as pd

    resolved = configs.read_trained(params, run, root)
    cfg = resolved["train"]
    model_path = root / paths.model(run)
    model, ckpt = load_checkpoint(model_path)
    check_model(ckpt, cfg, run, model_path)
    raw = root / paths.raw(resolved["dataset"])
    test = load_npz(raw, required=("x_test", "y_test"))
    check_images(test, "test", raw, "delete it and rerun the download stage", every_class=True)
    prepared = root / paths.prepared(cfg["split"])
    val = load_npz(prepared, required=("x_val", "y_val"))
    check_images(
        val, "val", prepared, f"delete it and rerun the split stage of {cfg['split']}", False
    )
    minority = resolved["split"]["minority_classes"]
    y_true = test["y_test"]
    proba, _ = evaluation.predict(model, test["x_test"], ckpt["input_mean"], ckpt["input_std"])
    y_pred = proba.argmax(1).astype(np.int64)
    result = evaluation.compute_metrics(
        y_true,
        y_pred,
        proba,
        minority,
        seed=cfg["seed"],
        bootstrap_samples=params["evaluate"]["bootstrap_samples"],
    )
    val_proba, _ = evaluation.predict(model, val["x_val"], ckpt["input_mean"], ckpt["input_std"])
    result["validation"] = evaluation.validation_metrics(
        val["y_val"], val_proba.argmax(1), minority
    )
    result["clean_test"] = evaluation.shift_rates(y_true, y_pred, minority)
    result["transformed_test"] = evaluation.transform_probe(
        model, test["x_test"], y_true, ckpt["input_mean"], ckpt["input_std"], cfg, minority
    )
    result["run"] = run
    # every table computed before the first file is written: a failure writes nothing
    tables = [
        (paths.confusion(run), pd.DataFrame({"actual": y_true, "predicted": y_pred}), None),
        (paths.roc(run), pd.DataFrame(evaluation.roc_table(y_true, proba)), "%.5g"),
        (paths.pr(run), pd.DataFrame(evaluation.pr_table(y_true, proba)), "%.5g"),
        (paths.reliability(run), pd.DataFrame(evaluation.reliability_bins(y_true, proba)), "%.6g"),
    ]
    for rel, table, float_format in tables:
        with atomic_path(root / rel) as tmp:
            table.to_csv(tmp, index=False, float_format=float_format)
    write_json(root / paths.metrics(run), result)
    ci = result["ci95"]["accuracy"]
    print(
        f"evaluate {run}: test accuracy {result['accuracy']:.4f} (95% CI {ci[0]:.4f}-{ci[1]:.4f}), "
        f"minority recall {result['minority_recall_mean']:.4f}, "
        f"macro AP {result['average_precision']['macro']:.4f}, ECE {result['ece']:.4f}"
    )
