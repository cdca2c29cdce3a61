"""Stage split: the imbalanced train/validation split of one named split (`splits.<name>`)."""

from __future__ import annotations

from pathlib import Path

from .. import configs, datasets, paths, split_figure
from ..errors import BlockbenchError
from ..split import make_split
from ..storage import load_npz, save_npz, write_json


def run(params: dict, name: str, root: Path = Path(".")) -> None:
    cfg = configs.read_split_current(params, name, root)
    dataset = cfg.pop("dataset")
    cfg.pop("name")
    raw = load_npz(root / paths.raw(dataset), required=datasets.ARRAY_NAMES)
    try:
        arrays, record = make_split(raw, cfg)
    except BlockbenchError as exc:
        raise BlockbenchError(f"params.yaml: splits.{name}: {exc}") from None
    record["dataset"] = dataset
    record["split"] = name
    save_npz(root / paths.prepared(name), **arrays)
    write_json(root / paths.split_counts(name), record)
    split_figure.class_distribution(
        record, root / paths.split_figure(name), f"{dataset}, split '{name}': images per class"
    )
    sizes = record["sizes"]
    print(f"split {name}: {sizes['train']} train, {sizes['val']} val, {sizes['test']} test")
