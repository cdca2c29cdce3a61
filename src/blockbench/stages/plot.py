"""Stage plot: every figure of one run (curves, confusion, ROC, t-SNE, example grids, filters).

It predicts the test set again from the model (a second or less) instead of reading a bulky
predictions file, so nothing it needs has to be kept outside git."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import configs, evaluation, figures, paths
from ..errors import BlockbenchError
from ..models import last_conv_weights, load_checkpoint
from ..storage import load_npz, read_json


def run(params: dict, run: str, root: Path = Path(".")) -> None:
    import pandas as pd

    resolved = configs.read_trained(params, run, root)
    cfg = resolved["train"]
    out = {k: root / v for k, v in paths.run_figures(run, cfg).items()}
    history = pd.read_csv(root / paths.history(run))
    info = read_json(root / paths.train_info(run))
    result = read_json(root / paths.metrics(run))
    model, ckpt = load_checkpoint(root / paths.model(run))
    test = load_npz(root / paths.raw(resolved["dataset"]), required=("x_test", "y_test"))
    images, y = test["x_test"], test["y_test"]
    proba, features = evaluation.predict(model, images, ckpt["input_mean"], ckpt["input_std"])
    yhat = pd.read_csv(root / paths.confusion(run))[
        "predicted"
    ].to_numpy()  # evaluate's predictions
    if len(yhat) != len(y) or not np.array_equal(yhat, proba.argmax(1)):
        raise BlockbenchError(
            f"{paths.confusion(run)} does not hold this model's test predictions; "
            f"rerun the evaluate stage of {run}"
        )
    minority = result["minority_classes"]
    label = f"{run} ({cfg['n_conv']} conv + {cfg['n_mobilenet']} MobileNet blocks)"

    selected = info["selected_epoch"]
    figures.loss_curves(history, out["loss"], f"{label}: loss", selected_epoch=selected)
    figures.accuracy_curves(history, out["accuracy"], f"{label}: accuracy", selected_epoch=selected)
    counts = np.bincount(y * 10 + yhat, minlength=100).reshape(10, 10)
    figures.confusion_matrix(counts, out["confusion"], f"{label}: test confusion (row-normalised)")
    figures.per_class_bars(
        result["per_class"], out["per_class"], f"{label}: per-class test metrics", minority=minority
    )
    figures.roc_curves(y, proba, out["roc"], f"{label}: one-vs-rest ROC (test)")
    figures.tsne(
        features, y, out["tsne"], f"{label}: t-SNE of penultimate features (test)", seed=cfg["seed"]
    )
    shown_prob = proba[np.arange(len(yhat)), yhat]
    for name, correct in (("correct", True), ("wrong", False)):
        figures.example_grid(
            images,
            y,
            yhat,
            shown_prob,
            out[name],
            f"{label}: {'correctly classified' if correct else 'misclassified'} test images",
            correct=correct,
            seed=cfg["seed"],
        )
    _clear_stale_files(root / paths.figures_dir(run), keep=set(out.values()))
    for kind, weights in last_conv_weights(model).items():
        figures.filters(
            weights.numpy(),
            out[f"filters_{kind}"],
            f"{label}: last block, {kind} filters",
            kind=kind,
        )
    print(f"plot {run}: {len(out)} figures in {paths.figures_dir(run)}")


def _clear_stale_files(folder: Path, keep: set[Path]) -> None:
    """Remove figures a previous config left (e.g. conv filters of a now-MobileNet run)."""
    for f in folder.rglob("*.png") if folder.is_dir() else []:
        if f not in keep:
            f.unlink()
