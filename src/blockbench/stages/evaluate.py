"""Stage evaluate: test-set metrics, per-image predictions, ROC, precision-recall and reliability
tables of one run, and the validation metrics the study chooses remedies by.

Every output is a pure function of the model and the test set (no timings: those live in
train.json), so an evaluation rerun on another machine writes the same bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import configs, evaluation, paths
from ..models import load_checkpoint
from ..storage import atomic_path, load_npz, write_json


def run(params: dict, run: str, root: Path = Path(".")) -> None:
    import pandas as pd

    resolved = configs.read_trained(params, run, root)
    cfg = resolved["train"]
    model, ckpt = load_checkpoint(root / paths.model(run))
    test = load_npz(root / paths.raw(resolved["dataset"]), required=("x_test", "y_test"))
    val = load_npz(root / paths.prepared(cfg["split"]), required=("x_val", "y_val"))
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
    with atomic_path(root / paths.confusion(run)) as tmp:
        pd.DataFrame({"actual": y_true, "predicted": y_pred}).to_csv(tmp, index=False)
    with atomic_path(root / paths.roc(run)) as tmp:
        pd.DataFrame(evaluation.roc_table(y_true, proba)).to_csv(
            tmp, index=False, float_format="%.5g"
        )
    with atomic_path(root / paths.pr(run)) as tmp:
        pd.DataFrame(evaluation.pr_table(y_true, proba)).to_csv(
            tmp, index=False, float_format="%.5g"
        )
    with atomic_path(root / paths.reliability(run)) as tmp:
        pd.DataFrame(evaluation.reliability_bins(y_true, proba)).to_csv(
            tmp, index=False, float_format="%.6g"
        )
    write_json(root / paths.metrics(run), result)
    ci = result["ci95"]["accuracy"]
    print(
        f"evaluate {run}: test accuracy {result['accuracy']:.4f} (95% CI {ci[0]:.4f}-{ci[1]:.4f}), "
        f"minority recall {result['minority_recall_mean']:.4f}, "
        f"macro AP {result['average_precision']['macro']:.4f}, ECE {result['ece']:.4f}"
    )
