"""The body of each pipeline stage: read inputs from files, compute, write outputs atomically."""

from __future__ import annotations

from pathlib import Path

from . import datasets, figures, paths
from .params import split_config
from .split import make_split
from .storage import array_sha256, load_npz, save_npz, write_json


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
