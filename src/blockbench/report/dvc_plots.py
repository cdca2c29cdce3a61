"""The data of `dvc plots show`: small CSVs for the comparisons the report makes, not every run.

dvc.yaml's top-level `plots:` draws these (and shows the study figures as images); the per-run
CSVs (history, ROC, PR, reliability, confusion) of all runs stay plain outputs, so the page holds a
few dozen plots instead of hundreds.

- `results/plots/mobilenet_curves.csv`, `results/plots/plain_curves.csv`: the headline pair
  (`study.mobilenet`, `study.plain`) per epoch: validation loss and accuracy, mean, min and max
  over the seeds every run of the pair has (as the report's `arch_curves` figure).
- `results/plots/remedies.csv`: each remedy run's minority recall, mean over its seeds, one row per
  architecture x remedy (as the report's `remedy_minority_recall` figure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..params import remedy_table
from ..storage import atomic_path
from .runs import Group, minority_recall

PLOTS = paths.RESULTS / "plots"


def curves(group: Group) -> pd.DataFrame:
    """Per epoch: the mean, min and max over seeds of the validation loss and accuracy."""
    n = min(len(r.history) for r in group.runs)
    out = {"epoch": group.runs[0].history["epoch"].to_numpy()[:n]}
    for col in ("val_loss", "val_acc", "train_loss"):
        v = np.stack([r.history[col].to_numpy()[:n] for r in group.runs])
        out[f"{col}_mean"], out[f"{col}_min"], out[f"{col}_max"] = v.mean(0), v.min(0), v.max(0)
    return pd.DataFrame(out)


def remedies(params: dict, groups: dict[str, Group]) -> pd.DataFrame:
    rows = []
    for base, variants in remedy_table(params).items():
        for variant, name in {"none": base, **variants}.items():
            if name in groups:
                g = groups[name]
                rows.append(
                    {
                        "remedy": f"{base} {variant}",
                        "minority_recall": g.mean(minority_recall),
                        "seeds": g.n,
                    }
                )
    return pd.DataFrame(rows, columns=["remedy", "minority_recall", "seeds"])


def _csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")


def write(params: dict, groups: dict[str, Group], root: Path = Path(".")) -> None:
    study = params["study"]
    for role in ("mobilenet", "plain"):
        if study[role] in groups:
            _csv(curves(groups[study[role]]), root / PLOTS / f"{role}_curves.csv")
    _csv(remedies(params, groups), root / PLOTS / "remedies.csv")
