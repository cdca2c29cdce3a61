"""Stage download: fetch `data.dataset` from the first of `data.sources` that serves it."""

from __future__ import annotations

from pathlib import Path

from .. import datasets, paths
from ..storage import array_sha256, save_npz, write_json


def run(params: dict, root: Path = Path(".")) -> None:
    data = params["data"]
    dataset = data["dataset"]
    arrays, source, attempts = datasets.fetch(
        dataset,
        data["sources"],
        root / paths.CACHE,
        local_path=data.get("local_path"),
        seed=data.get("seed", 0),
    )
    info = {
        "dataset": dataset,
        "source": source,
        "attempts": attempts,
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "sha256": {k: array_sha256(v) for k, v in arrays.items()},
        "class_counts": {
            part: datasets.class_counts(arrays[f"y_{part}"]) for part in ("train", "test")
        },
    }
    save_npz(root / paths.raw(dataset), **arrays)
    write_json(root / paths.raw_info(dataset), info)
    print(
        f"download: {dataset} from {source}: {len(arrays['y_train'])} train, "
        f"{len(arrays['y_test'])} test images"
    )
