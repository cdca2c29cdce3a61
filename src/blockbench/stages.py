"""The body of each pipeline stage: read inputs from files, compute, write outputs atomically."""

from __future__ import annotations

from pathlib import Path

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
    import torch

    from .training import train as train_model

    cfg = run_config(params, run)
    split = load_npz(root / paths.prepared(cfg["split"]),
                     required=("x_train", "y_train", "x_val", "y_val"))
    result = train_model(cfg, split, threads=threads, name=run)
    info = {"run": run, "config": cfg, "dataset": params["data"]["dataset"], **result.info}
    checkpoint = {"state_dict": result.model.state_dict(), "config": cfg,
                  "input_mean": info["input_mean"], "input_std": info["input_std"],
                  "selected_epoch": info["selected_epoch"]}
    with atomic_path(root / paths.model(run)) as tmp:
        torch.save(checkpoint, tmp)
    with atomic_path(root / paths.history(run)) as tmp:
        pd.DataFrame(result.history).to_csv(tmp, index=False, float_format="%.6g")
    write_json(root / paths.train_info(run), info)
    print(f"train {run}: selected epoch {info['selected_epoch']}, val acc {info['selected']['val_acc']:.4f}, "
          f"{info['seconds_per_epoch']:.1f} s/epoch")
