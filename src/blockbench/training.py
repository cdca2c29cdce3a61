"""The trainer: whole split as one tensor on the device, batches by random permutation.

No DataLoader and no per-sample Python work: images are normalised once, kept channels_last, and
each batch is an index into the resident tensor. Evaluation runs under inference mode in large
batches. On CUDA the data lives on the GPU and the forward pass uses bf16 autocast.

Imbalance remedies (`remedy`: loss, batch order, augmentation) live in `remedies`; the trainer
only asks them for the loss and for each epoch's index order.

On the CPU, glibc's malloc is asked to keep freed memory for reuse (`reuse_freed_memory`): by
default every activation tensor larger than a few MB is mmap'd and unmapped again at each step, and
the page faults that refill it cost as much time as the arithmetic (docs/benchmarks.md).

Model selection: with `select: best_val` (default) the model handed on is the epoch with the lowest
validation loss; `select: last` keeps the last epoch.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from . import N_CLASSES, remedies
from .allocator import freed_memory_reused
from .models import build_model, count_parameters, macs_per_image
from .tensors import EVAL_BATCH, Tensors, to_tensors


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_optimizer(cfg: dict, model: nn.Module) -> torch.optim.Optimizer:
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    return kinds[cfg["optimizer"]](
        model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"]
    )


def _autocast(device: torch.device):
    return (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else torch.autocast("cpu", enabled=False)
    )


@torch.inference_mode()
def predict_logits(model: nn.Module, x: torch.Tensor, batch: int = EVAL_BATCH) -> torch.Tensor:
    model.eval()
    with _autocast(x.device):
        return torch.cat([model(x[i : i + batch]).float() for i in range(0, len(x), batch)])


def evaluate(model: nn.Module, data: Tensors, loss_fn) -> tuple[float, float]:
    logits = predict_logits(model, data.x)
    return float(loss_fn(logits, data.y)), float((logits.argmax(1) == data.y).float().mean())


def time_inference(model: nn.Module, x: torch.Tensor) -> dict:
    """Seconds per image of the selected model's forward pass over `x` (the validation images) in
    EVAL_BATCH batches: a timing, so it lives with the training facts, not with the test metrics."""
    predict_logits(model, x[:EVAL_BATCH])  # warm-up
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    t0 = time.perf_counter()
    predict_logits(model, x)
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    return {
        "seconds_per_image": (time.perf_counter() - t0) / len(x),
        "images": len(x),
        "batch": EVAL_BATCH,
        "threads": torch.get_num_threads(),
        "device": x.device.type,
    }


@dataclass
class Sampler:
    """Each epoch's batch order: a uniform random permutation, or class-balanced draws
    (`oversample`, `augment`); with `augment`, the draws of the classes in `augmented` get a random
    affine transform."""

    balanced: bool = False
    n_classes: int = N_CLASSES
    augmenter: object = None
    augmented: torch.Tensor | None = None  # per class: its draws are transformed

    @classmethod
    def for_run(cls, cfg: dict, counts: torch.Tensor, fill: float) -> "Sampler":
        remedy = cfg.get("remedy", "none")
        if remedy not in ("oversample", "augment"):
            return cls()
        if remedy == "oversample":
            return cls(balanced=True, n_classes=len(counts))
        return cls(
            True,
            len(counts),
            remedies.make_augmenter(cfg, fill),
            remedies.augmented_classes(cfg, counts),
        )

    def order(self, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.balanced:
            return remedies.balanced_indices(y, self.n_classes, gen)
        return torch.randperm(len(y), device=y.device, generator=gen)

    def batch(self, data: Tensors, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xb, yb = data.x[idx], data.y[idx]
        if self.augmenter is not None:
            xb = remedies.augment_batch(xb, self.augmented.to(yb.device)[yb], self.augmenter)
        return xb, yb


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn,
    data: Tensors,
    batch_size: int,
    gen: torch.Generator,
    sampler: Sampler | None = None,
) -> tuple[float, float]:
    """One pass over `data` (len(data) draws in the sampler's order).

    Returns (mean train loss, train accuracy)."""
    device = data.x.device
    sampler = sampler or Sampler()
    model.train()
    n = len(data.y)
    perm = sampler.order(data.y, gen)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for i in range(0, n, batch_size):
        idx = perm[i : i + batch_size]
        xb, yb = sampler.batch(data, idx)
        with _autocast(device):
            logits = model(xb)
            loss = loss_fn(logits.float(), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(idx)
        correct += (logits.argmax(1) == yb).sum()
    return float(loss_sum) / n, float(correct) / n


@dataclass
class Result:
    model: nn.Module
    history: list[dict]
    info: dict = field(default_factory=dict)


class _Progress:
    """A tqdm bar on a terminal, one plain line per epoch otherwise (logs stay readable)."""

    def __init__(self, total: int, desc: str):
        self.tty = sys.stderr.isatty()
        self.desc = desc
        self.bar = tqdm(total=total, desc=desc, unit="epoch") if self.tty else None

    def update(self, row: dict) -> None:
        text = (
            f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, "
            f"val loss {row['val_loss']:.4f}, "
            f"val acc {row['val_acc']:.4f} ({row['seconds']:.1f}s)"
        )
        if self.bar is not None:
            self.bar.set_postfix_str(text.split(": ", 1)[1])
            self.bar.update(1)
        else:
            print(f"{self.desc}: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def train(
    cfg: dict,
    split: dict[str, np.ndarray],
    threads: int = 0,
    device: torch.device | None = None,
    name: str = "run",
) -> Result:
    """Train one run config on one prepared split; returns the selected model, history and facts."""
    if threads > 0:
        torch.set_num_threads(threads)
    device = device or pick_device()
    allocator_tuned = device.type == "cpu" and freed_memory_reused()
    torch.manual_seed(cfg["seed"])
    gen = torch.Generator(device=device).manual_seed(cfg["seed"])

    mean = float(split["x_train"].mean() / 255.0)
    std = float(split["x_train"].std() / 255.0)
    train_t = to_tensors(split["x_train"], split["y_train"], mean, std, device)
    val_t = to_tensors(split["x_val"], split["y_val"], mean, std, device)

    model = build_model(cfg).to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(cfg, model)
    counts = torch.bincount(train_t.y, minlength=N_CLASSES)
    loss_fn = remedies.loss_function(cfg, counts)
    sampler = Sampler.for_run(cfg, counts, fill=-mean / std)
    n, bs = len(train_t.y), cfg["batch_size"]

    history, best, best_loss = [], None, float("inf")
    progress = _Progress(cfg["epochs"], name)
    start = time.perf_counter()
    train_seconds = 0.0
    for epoch in range(1, cfg["epochs"] + 1):
        t0 = time.perf_counter()
        train_loss, train_acc = train_one_epoch(
            model, optimizer, loss_fn, train_t, bs, gen, sampler
        )
        train_seconds += time.perf_counter() - t0
        val_loss, val_acc = evaluate(model, val_t, loss_fn)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "train_acc": train_acc,
            "val_acc": val_acc,
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        progress.update(row)
        if val_loss < best_loss:
            best_loss, best = val_loss, (epoch, copy.deepcopy(model.state_dict()))
    progress.close()
    wall = time.perf_counter() - start

    last = history[-1]
    if cfg["select"] == "best_val":
        chosen_epoch, state = best
        model.load_state_dict(state)
    else:
        chosen_epoch = last["epoch"]
    chosen = history[chosen_epoch - 1]
    inference = time_inference(model, val_t.x)
    info = {
        "parameters": count_parameters(model),
        "macs_per_image": macs_per_image(model),
        "wall_seconds": wall,
        "train_seconds": train_seconds,
        "seconds_per_epoch": wall / cfg["epochs"],
        "train_images_per_second": n * cfg["epochs"] / train_seconds,
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(),
        "reuse_freed_memory": allocator_tuned,
        "inference": inference,
        "torch_version": torch.__version__,
        "seed": cfg["seed"],
        "remedy": remedies.describe(cfg),
        "train_class_counts": counts.tolist(),
        "select": cfg["select"],
        "selected_epoch": chosen_epoch,
        "selected": {"val_loss": chosen["val_loss"], "val_acc": chosen["val_acc"]},
        "last_epoch": {
            "epoch": last["epoch"],
            "val_loss": last["val_loss"],
            "val_acc": last["val_acc"],
        },
        "input_mean": mean,
        "input_std": std,
        "n_train": n,
        "n_val": len(val_t.y),
    }
    return Result(model, history, info)
