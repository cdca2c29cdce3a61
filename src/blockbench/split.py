"""The imbalanced split: the split stage's library.

From the official training set:
1. each minority class keeps `keep_fraction` of its images (seeded random choice, rounded); a level
   that leaves a class fewer than 2 images is refused in one line (the stratified hold-out below
   needs 2 of every class);
2. optionally, `train_over_test` r lowers train / test to r -- training images *after* the
   validation hold-out per test image, the original study's "Ratio = Training/Testing" -- by
   dropping majority-class images only, the same share from each majority class (minority images
   and the test set are untouched);
3. `val_fraction` of what is left is held out for validation, stratified by class.
The official test set stays balanced and untouched. Same inputs and seed, same split.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.model_selection import train_test_split

from . import N_CLASSES
from .datasets import class_counts
from .errors import BlockbenchError

MIN_PER_CLASS = 2


def _keep_minority(
    y: np.ndarray, minority: list[int], keep_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    keep = []
    for c in range(N_CLASSES):
        idx = np.flatnonzero(y == c)
        if c in minority and keep_fraction < 1:
            n_keep = min(len(idx), int(round(keep_fraction * len(idx))))
            if n_keep < MIN_PER_CLASS:
                need = MIN_PER_CLASS / len(idx)
                raise BlockbenchError(
                    f"keep_fraction {keep_fraction:g} leaves class {c} {n_keep} of its "
                    f"{len(idx)} training images; the stratified validation hold-out needs "
                    f"{MIN_PER_CLASS} of every class: raise keep_fraction to {need:.2g} or more"
                )
            idx = rng.choice(idx, size=n_keep, replace=False)
        keep.append(idx)
    return np.sort(np.concatenate(keep))


def n_train_after_holdout(n: int, val_fraction: float) -> int:
    """Training images left of n after the stratified hold-out (sklearn rounds the hold-out up)."""
    return n - math.ceil(val_fraction * n)


def pool_for_train_size(n_train: int, val_fraction: float) -> int:
    """The smallest pool whose hold-out leaves `n_train` training images."""
    n = max(n_train, int(n_train / (1 - val_fraction)) - 2)
    while n_train_after_holdout(n, val_fraction) < n_train:
        n += 1
    return n


def _drop_majority(
    pool: np.ndarray, y: np.ndarray, minority: list[int], target: int, seed: int
) -> np.ndarray:
    is_major = ~np.isin(y[pool], minority)
    major, minor = pool[is_major], pool[~is_major]
    n_major_keep = target - len(minor)
    n_major_classes = len(np.unique(y[major]))
    if n_major_keep < MIN_PER_CLASS * n_major_classes:
        raise BlockbenchError(
            f"split.train_over_test is unreachable: dropping majority images alone "
            f"cannot go below (train + val) = {len(minor) + MIN_PER_CLASS * n_major_classes}"
        )
    kept, _ = train_test_split(major, train_size=n_major_keep, stratify=y[major], random_state=seed)
    return np.sort(np.concatenate([minor, kept]))


def make_split(arrays: dict[str, np.ndarray], cfg: dict) -> tuple[dict[str, np.ndarray], dict]:
    """Return (split arrays, counts record) for one split config (see module docstring)."""
    x, y = arrays["x_train"], arrays["y_train"]
    x_test, y_test = arrays["x_test"], arrays["y_test"]
    minority = sorted(cfg["minority_classes"])
    seed = cfg["seed"]
    rng = np.random.default_rng(seed)

    pool = _keep_minority(y, minority, cfg["keep_fraction"], rng)
    val_fraction = cfg["val_fraction"]
    ratio = cfg.get("train_over_test")
    ratio_before = n_train_after_holdout(len(pool), val_fraction) / len(y_test)
    if ratio is not None and ratio < ratio_before:
        target = pool_for_train_size(int(round(ratio * len(y_test))), val_fraction)
        pool = _drop_majority(pool, y, minority, target, seed)

    idx_train, idx_val = train_test_split(
        pool, test_size=val_fraction, stratify=y[pool], random_state=seed
    )
    idx_train, idx_val = np.sort(idx_train), np.sort(idx_val)

    out = {
        "x_train": x[idx_train],
        "y_train": y[idx_train],
        "x_val": x[idx_val],
        "y_val": y[idx_val],
        "x_test": x_test,
        "y_test": y_test,
        "idx_train": idx_train.astype(np.int64),
        "idx_val": idx_val.astype(np.int64),
    }
    official = np.bincount(y, minlength=N_CLASSES)
    kept = np.bincount(y[pool], minlength=N_CLASSES)
    record = {
        "config": cfg,
        "class_counts": {
            "official_train": class_counts(y),
            "train": class_counts(out["y_train"]),
            "val": class_counts(out["y_val"]),
            "test": class_counts(y_test),
        },
        "sizes": {
            "official_train": len(y),
            "train": len(idx_train),
            "val": len(idx_val),
            "test": len(y_test),
        },
        "kept_fraction_per_class": {
            str(c): round(float(kept[c] / official[c]), 6) if official[c] else None
            for c in range(N_CLASSES)
        },
        "train_over_test": {
            "requested": ratio,
            "before_drop": round(ratio_before, 6),
            "achieved": round(len(idx_train) / len(y_test), 6),
            "note": "train / test, train counted after the validation hold-out",
        },
        "train_plus_val_over_test": round(len(pool) / len(y_test), 6),
    }
    return out, record
