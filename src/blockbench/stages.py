"""The body of each pipeline stage: read inputs from files, compute, write outputs atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import datasets, figures, paths
from .params import run_config, split_config
from .split import make_split
from .storage import array_sha256, atomic_path, load_npz, save_npz, write_json


def download(params: dict, root: Path = Path(".")) -> None:
    data = params["data"]
    dataset = data["dataset"]
    arrays, source, attempts = datasets.fetch(dataset, data["sources"], root / paths.CACHE,
                                              local_path=data.get("local_path"), seed=data.get("seed", 0))
    info = {
        "dataset": dataset,
        "source": source,
        "attempts": attempts,
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "sha256": {k: array_sha256(v) for k, v in arrays.items()},
        "class_counts": {part: datasets.class_counts(arrays[f"y_{part}"]) for part in ("train", "test")},
    }
    save_npz(root / paths.raw(dataset), **arrays)
    write_json(root / paths.raw_info(dataset), info)
    print(f"download: {dataset} from {source}: {len(arrays['y_train'])} train, {len(arrays['y_test'])} test images")


def split(params: dict, name: str, root: Path = Path(".")) -> None:
    cfg = split_config(params, name)
    dataset = params["data"]["dataset"]
    raw = load_npz(root / paths.raw(dataset), required=datasets.ARRAY_NAMES)
    arrays, record = make_split(raw, cfg)
    record["dataset"] = dataset
    record["split"] = name
    save_npz(root / paths.prepared(name), **arrays)
    write_json(root / paths.split_counts(name), record)
    figures.class_distribution(record, root / paths.split_figure(name),
                               f"{dataset}, split '{name}': images per class")
    sizes = record["sizes"]
    print(f"split {name}: {sizes['train']} train, {sizes['val']} val, {sizes['test']} test")


def train(params: dict, run: str, threads: int = 0, root: Path = Path(".")) -> None:
    import pandas as pd

    from .models import save_checkpoint
    from .training import train as train_model

    cfg = run_config(params, run)
    split = load_npz(root / paths.prepared(cfg["split"]),
                     required=("x_train", "y_train", "x_val", "y_val"))
    result = train_model(cfg, split, threads=threads, name=run)
    info = {"run": run, "config": cfg, "dataset": params["data"]["dataset"], **result.info}
    save_checkpoint(root / paths.model(run), result.model, cfg, input_mean=info["input_mean"],
                    input_std=info["input_std"], selected_epoch=info["selected_epoch"])
    with atomic_path(root / paths.history(run)) as tmp:
        pd.DataFrame(result.history).to_csv(tmp, index=False, float_format="%.6g")
    write_json(root / paths.train_info(run), info)
    print(f"train {run}: selected epoch {info['selected_epoch']}, val acc {info['selected']['val_acc']:.4f}, "
          f"{info['seconds_per_epoch']:.1f} s/epoch")


def evaluate(params: dict, run: str, root: Path = Path(".")) -> None:
    import time

    import pandas as pd
    import torch

    from . import evaluation
    from .models import load_checkpoint
    from .training import EVAL_BATCH

    cfg = run_config(params, run)
    model, ckpt = load_checkpoint(root / paths.model(run))
    split_data = load_npz(root / paths.prepared(cfg["split"]), required=("x_test", "y_test"))
    y_true = split_data["y_test"]
    t0 = time.perf_counter()
    proba, features = evaluation.predict(model, split_data["x_test"], ckpt["input_mean"], ckpt["input_std"])
    seconds = time.perf_counter() - t0
    y_pred = proba.argmax(1).astype(np.int64)
    minority = split_config(params, cfg["split"])["minority_classes"]
    result = evaluation.compute_metrics(y_true, y_pred, proba, minority, seed=cfg["seed"],
                                        bootstrap_samples=params["evaluate"]["bootstrap_samples"])
    result["run"] = run
    result["inference"] = {"seconds_per_image": seconds / len(y_true), "batch": EVAL_BATCH,
                           "threads": torch.get_num_threads(), "device": "cpu"}
    save_npz(root / paths.predictions(run), y_true=y_true, y_pred=y_pred, proba=proba, features=features)
    with atomic_path(root / paths.confusion(run)) as tmp:
        pd.DataFrame({"actual": y_true, "predicted": y_pred}).to_csv(tmp, index=False)
    with atomic_path(root / paths.roc(run)) as tmp:
        pd.DataFrame(evaluation.roc_table(y_true, proba)).to_csv(tmp, index=False, float_format="%.5g")
    write_json(root / paths.metrics(run), result)
    ci = result["ci95"]["accuracy"]
    print(f"evaluate {run}: test accuracy {result['accuracy']:.4f} (95% CI {ci[0]:.4f}-{ci[1]:.4f}), "
          f"minority recall {result['minority_recall_mean']:.4f}")


def plot(params: dict, run: str, root: Path = Path(".")) -> None:
    import pandas as pd

    from .models import last_conv_weights, load_checkpoint
    from .storage import read_json

    cfg = run_config(params, run)
    out = {k: root / v for k, v in paths.run_figures(run, cfg).items()}
    history = pd.read_csv(root / paths.history(run))
    info = read_json(root / paths.train_info(run))
    result = read_json(root / paths.metrics(run))
    pred = load_npz(root / paths.predictions(run), required=("y_true", "y_pred", "proba", "features"))
    images = load_npz(root / paths.prepared(cfg["split"]), required=("x_test",))["x_test"]
    model, _ = load_checkpoint(root / paths.model(run))
    minority = result["minority_classes"]
    y, yhat, proba = pred["y_true"], pred["y_pred"], pred["proba"]
    label = f"{run} ({cfg['n_conv']} conv + {cfg['n_mobilenet']} MobileNet blocks)"

    selected = info["selected_epoch"]
    figures.loss_curves(history, out["loss"], f"{label}: loss", selected_epoch=selected)
    figures.accuracy_curves(history, out["accuracy"], f"{label}: accuracy", selected_epoch=selected)
    counts = np.bincount(y * 10 + yhat, minlength=100).reshape(10, 10)
    figures.confusion_matrix(counts, out["confusion"], f"{label}: test confusion (row-normalised)")
    figures.per_class_bars(result["per_class"], out["per_class"], f"{label}: per-class test metrics",
                           minority=minority)
    figures.roc_curves(y, proba, out["roc"], f"{label}: one-vs-rest ROC (test)")
    figures.tsne(pred["features"], y, out["tsne"], f"{label}: t-SNE of penultimate features (test)",
                 seed=cfg["seed"])
    shown_prob = proba[np.arange(len(yhat)), yhat]
    for name, correct in (("correct", True), ("wrong", False)):
        figures.example_grid(images, y, yhat, shown_prob, out[name],
                             f"{label}: {'correctly classified' if correct else 'misclassified'} test images",
                             correct=correct, seed=cfg["seed"])
    _clear_stale_files(root / paths.filters_dir(run), keep={out[k] for k in out if k.startswith("filters_")})
    for kind, weights in last_conv_weights(model).items():
        figures.filters(weights.numpy(), out[f"filters_{kind}"], f"{label}: last block, {kind} filters", kind=kind)
    print(f"plot {run}: {len(out)} figures in {paths.figures_dir(run)}")


def _clear_stale_files(folder: Path, keep: set[Path]) -> None:
    """Remove files a previous config left in an output folder (e.g. conv filters of a now-MobileNet run)."""
    if folder.is_dir():
        for f in folder.iterdir():
            if f.is_file() and f not in keep:
                f.unlink()
