"""Imbalance remedies: what a run does about its rare classes (`remedy` in params.yaml).

Each remedy is one small unit used by the trainer:

- `none`: plain cross-entropy on logits, batches in uniform random order (the baseline).
- `class_weights`: weighted cross-entropy. `class_weights: inverse` weighs class c by 1/n_c;
  `effective` uses the "effective number of samples" (Cui et al. 2019):
  w_c = (1 - beta) / (1 - beta^n_c). Either way the weights are scaled so that they average to 1
  over the classes.
- `oversample`: class-balanced batches. Each epoch draws as many images as the split has, n/K per
  class, with replacement from the in-memory index of that class (a weighted random sampler without
  a DataLoader).
- `augment`: `oversample`, and draws get a random affine transform (rotation, translation, scale)
  applied batched on the tensors with torchvision's transforms v2 (`AUGMENT_GROUP` images share one
  draw of parameters), so the repeated minority images are not the same images over and over.
  `augment_scope: all` (default) transforms every draw of every class; `repeated` only the draws of
  the classes the sampler repeats (fewer than n/K images). Measured on MNIST, `repeated` hurts the
  minority classes: the resampling of a transform (bilinear interpolation blurs every image it
  moves) is then a mark of the minority classes in training that clean test images lack
  (docs/benchmarks.md).
- `logit_adjust`: logit-adjusted cross-entropy (Menon et al. 2021): the loss sees
  logits + tau * log(prior), where prior is the class frequency in the training split; prediction
  uses the plain logits.
- `focal`: focal loss (Lin et al. 2017), mean over the batch of -(1 - p_t)^gamma * log p_t.

The remedies that change the loss (`class_weights`, `logit_adjust`, `focal`) use it for the
validation loss too, so model selection (`select: best_val`) follows the objective being trained.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

AUGMENT_GROUP = 32  # images that share one draw of affine parameters (v2 draws once per call)


# ------------------------------------------------------------------------------------------- losses
def class_weights(counts: torch.Tensor, kind: str = "inverse", beta: float = 0.999) -> torch.Tensor:
    """Per-class weights from training counts, averaging 1 over the classes."""
    counts = counts.double()
    if (counts <= 0).any():
        raise ValueError("class_weights: every class needs at least one training image")
    if kind == "inverse":
        w = 1.0 / counts
    elif kind == "effective":
        w = (1.0 - beta) / (1.0 - torch.pow(torch.full_like(counts, beta), counts))
    else:
        raise ValueError(f"class_weights: unknown kind {kind!r}; use inverse or effective")
    return (w * len(w) / w.sum()).float()


class FocalLoss(nn.Module):
    """Mean over the batch of -(1 - p_t)^gamma * log p_t; gamma = 0 is plain cross-entropy."""

    def __init__(self, gamma: float = 2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logp_t = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
        p_t = logp_t.exp()
        return (-(1.0 - p_t).pow(self.gamma) * logp_t).mean()


class LogitAdjustedLoss(nn.Module):
    """Cross-entropy on logits + tau * log(prior) (Menon et al. 2021); tau = 0 is plain
    cross-entropy."""

    def __init__(self, prior: torch.Tensor, tau: float = 1.0):
        super().__init__()
        self.register_buffer("offset", tau * torch.log(prior.float()))

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits + self.offset.to(logits.device), y)


def loss_function(cfg: dict, counts: torch.Tensor):
    """The training loss of a run: its remedy's loss, or the double-softmax ablation
    (`loss_input`)."""
    remedy = cfg.get("remedy", "none")
    if cfg["loss_input"] == "softmax":
        if remedy not in ("none", "oversample", "augment"):
            raise ValueError(f"loss_input softmax cannot be combined with remedy {remedy}")
        ce = nn.CrossEntropyLoss()
        return lambda logits, y: ce(torch.softmax(logits, dim=1), y)
    if remedy == "class_weights":
        w = class_weights(counts, cfg.get("class_weights", "inverse"), cfg.get("cb_beta", 0.999))
        return nn.CrossEntropyLoss(weight=w.to(counts.device))
    if remedy == "logit_adjust":
        return LogitAdjustedLoss(counts.double() / counts.sum(), cfg.get("logit_tau", 1.0)).to(
            counts.device
        )
    if remedy == "focal":
        return FocalLoss(cfg.get("focal_gamma", 2.0))
    return nn.CrossEntropyLoss()


# ------------------------------------------------------------------------------------------ batches
def balanced_indices(y: torch.Tensor, n_classes: int, gen: torch.Generator) -> torch.Tensor:
    """One epoch of len(y) indices, about len(y)/K per class (with replacement), in random order."""
    n = len(y)
    per_class = [torch.nonzero(y == c).squeeze(1) for c in range(n_classes)]
    present = [idx for idx in per_class if len(idx)]
    share = [n // len(present) + (1 if i < n % len(present) else 0) for i in range(len(present))]
    draws = [
        idx[torch.randint(len(idx), (k,), generator=gen, device=y.device)]
        for idx, k in zip(present, share)
    ]
    out = torch.cat(draws)
    return out[torch.randperm(n, generator=gen, device=y.device)]


def repeated_classes(counts: torch.Tensor) -> torch.Tensor:
    """Boolean per class: the balanced sampler draws it more often than it has images."""
    present = counts > 0
    per_class = counts.sum() / present.sum()
    return present & (counts.double() < per_class.double())


def augmented_classes(cfg: dict, counts: torch.Tensor) -> torch.Tensor:
    """Boolean per class: `augment` transforms its draws (`augment_scope`: all classes or the
    repeated)."""
    if cfg.get("augment_scope", "all") == "repeated":
        return repeated_classes(counts)
    return torch.ones(len(counts), dtype=torch.bool, device=counts.device)


def make_augmenter(cfg: dict, fill: float):
    """A torchvision v2 RandomAffine for normalised 1-channel tensors (`fill` is the background
    value)."""
    from torchvision.transforms import v2

    scale = cfg.get("augment_scale", [0.9, 1.1])
    t = cfg.get("augment_translate", 0.1)
    return v2.RandomAffine(
        degrees=cfg.get("augment_degrees", 10.0),
        translate=(t, t),
        scale=tuple(scale),
        interpolation=v2.InterpolationMode.BILINEAR,
        fill=fill,
    )


def augment_batch(
    x: torch.Tensor, mask: torch.Tensor, augmenter, group: int = AUGMENT_GROUP
) -> torch.Tensor:
    """x with the rows in `mask` replaced by random affine copies (one draw per `group` rows)."""
    rows = torch.nonzero(mask).squeeze(1)
    if len(rows) == 0:
        return x
    out = x.clone()
    for i in range(0, len(rows), group):
        chunk = rows[i : i + group]
        out[chunk] = augmenter(x[chunk].contiguous()).to(memory_format=torch.channels_last)
    return out


def describe(cfg: dict) -> str:
    """A short label of a run's remedy and its parameters (for tables and logs)."""
    remedy = cfg.get("remedy", "none")
    if remedy == "class_weights":
        kind = cfg.get("class_weights", "inverse")
        beta = ", beta " + str(cfg.get("cb_beta")) if kind == "effective" else ""
        return f"class_weights ({kind}{beta})"
    if remedy == "logit_adjust":
        return f"logit_adjust (tau {cfg.get('logit_tau', 1.0):g})"
    if remedy == "focal":
        return f"focal (gamma {cfg.get('focal_gamma', 2.0):g})"
    if remedy == "augment":
        return (
            f"augment ({cfg.get('augment_scope', 'all')} classes, "
            f"±{cfg.get('augment_degrees', 10):g}°, shift {cfg.get('augment_translate', 0.1):g}, "
            f"scale {cfg.get('augment_scale', [0.9, 1.1])})"
        )
    return remedy


__all__ = [
    "class_weights",
    "FocalLoss",
    "LogitAdjustedLoss",
    "loss_function",
    "balanced_indices",
    "repeated_classes",
    "augmented_classes",
    "make_augmenter",
    "augment_batch",
    "describe",
]
