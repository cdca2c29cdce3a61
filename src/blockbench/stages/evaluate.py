"""Stage evaluate: test-set metrics, per-image predictions and ROC table of one run.

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
    y_true = test["y_test"]
    proba, _ = evaluation.predict(model, test["x_test"], ckpt["input_mean"], ckpt["input_std"])
    y_pred = proba.argmax(1).astype(np.int64)
    result = evaluation.compute_metrics(
        y_true,
        y_pred,
        proba,
        resolved["split"]["minority_classes"],
        seed=cfg["seed"],
        bootstrap_samples=params["evaluate"]["bootstrap_samples"],
    )
    result["run"] = run
    with atomic_path(root / paths.confusion(run)) as tmp:
        pd.DataFrame({"actual": y_true, "predicted": y_pred}).to_csv(tmp, index=False)
    with atomic_path(root / paths.roc(run)) as tmp:
        pd.DataFrame(evaluation.roc_table(y_true, proba)).to_csv(
            tmp, index=False, float_format="%.5g"
        )
    write_json(root / paths.metrics(run), result)
    ci = result["ci95"]["accuracy"]
    print(
        f"evaluate {run}: test accuracy {result['accuracy']:.4f} (95% CI {ci[0]:.4f}-{ci[1]:.4f}), "
        f"minority recall {result['minority_recall_mean']:.4f}"
    )
