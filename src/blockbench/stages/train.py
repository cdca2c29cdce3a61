"""Stage train: train one run on its split; write the model, the history and the training facts.

It trains on `compute.device` (params.yaml; not part of the run config) and keeps a resume point in
data/checkpoints/<run>.pt, outside every declared output (DVC deletes those before a stage runs):
rerun after a kill, it continues after the last completed epoch. The checkpoint is removed once the
outputs are written."""

from __future__ import annotations

from pathlib import Path

from .. import configs, paths
from ..models import save_checkpoint
from ..storage import atomic_path, load_npz, write_json, write_text
from ..training import pick_device
from ..training import train as train_model


def run(params: dict, run: str, threads: int = 0, root: Path = Path(".")) -> None:
    import pandas as pd

    resolved = configs.read_current(params, run, root)
    cfg = resolved["train"]
    device = pick_device(params["compute"]["device"])  # before any work: cuda without a GPU
    split = load_npz(
        root / paths.prepared(cfg["split"]), required=("x_train", "y_train", "x_val", "y_val")
    )
    checkpoint = root / paths.checkpoint(run)
    result = train_model(
        cfg, split, threads=threads, device=device, name=run, checkpoint=checkpoint
    )
    info = {"run": run, "config": cfg, "dataset": resolved["dataset"], **result.info}
    save_checkpoint(
        root / paths.model(run),
        result.model,
        cfg,
        input_mean=info["input_mean"],
        input_std=info["input_std"],
        selected_epoch=info["selected_epoch"],
    )
    with atomic_path(root / paths.history(run)) as tmp:
        pd.DataFrame(result.history).to_csv(tmp, index=False, float_format="%.6g")
    write_json(root / paths.train_info(run), info)
    # the config this model was trained with, beside it: evaluate and plot read this copy
    write_text(root / paths.trained_config(run), (root / paths.run_config(run)).read_text())
    checkpoint.unlink(missing_ok=True)  # every output is in place: nothing left to resume
    resumed = info["resumed_from_epoch"]
    print(
        f"train {run}: selected epoch {info['selected_epoch']}, "
        f"val acc {info['selected']['val_acc']:.4f}, "
        f"{info['seconds_per_epoch']:.1f} s/epoch"
        + (f" (resumed after epoch {resumed})" if resumed else "")
    )
