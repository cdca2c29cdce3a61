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
validation loss; `select: last` keeps the last epoch. A run whose losses or weights become NaN or
infinite stops after that epoch with a one-line error, whatever `select` says: the caller writes
nothing, and the resume point stays at the last finite epoch.

Device (`compute.device` in params.yaml, `pick_device`): `auto` is CUDA when torch sees a GPU, else
the CPU. The CUDA-only paths (bf16 autocast, cuDNN autotuning, larger evaluation batches) are never
taken on the CPU, so CPU numerics do not depend on them.

Resuming (`checkpoint=`): after every epoch the trainer writes, atomically, everything the next
epoch depends on: weights, optimizer state, the batch-order generator and torch's global RNG (the
augmentation draws from it), the history so far and the best epoch's weights. A rerun after a kill
finds it and continues after the last completed epoch; on the CPU it ends with the same weights,
bit for bit, as a run that was never interrupted. A checkpoint records a fingerprint of the run
config, the split's arrays, the device, the thread count and the torch version; one from anything
else is ignored (training starts over).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from . import N_CLASSES, remedies
from .allocator import freed_memory_reused
from .errors import BlockbenchError
from .models import build_model, count_parameters, macs_per_image
from .storage import array_sha256, write_bytes
from .tensors import Tensors, eval_batch, to_tensors

DEVICES = ("auto", "cpu", "cuda")  # the choices of compute.device


def pick_device(name: str = "auto") -> torch.device:
    """The torch device `compute.device` names: `auto` is cuda when torch sees a GPU, else cpu."""
    if name not in DEVICES:
        raise BlockbenchError(f"compute.device: {name!r} is not one of: {', '.join(DEVICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    elif name == "cuda" and not torch.cuda.is_available():
        raise BlockbenchError(
            "compute.device is cuda but torch sees no CUDA GPU on this machine; "
            "set compute.device to auto or cpu in params.yaml"
        )
    return torch.device(name)


def make_optimizer(cfg: dict, model: nn.Module) -> torch.optim.Optimizer:
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    return kinds[cfg["optimizer"]](
        model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"]
    )


def _autocast(device: torch.device, bf16: bool = True):
    """bf16 autocast on CUDA (tensor cores; `bf16=False` for fp32, e.g. to compare speeds);
    disabled on the CPU."""
    return (
        torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16)
        if device.type == "cuda"
        else torch.autocast("cpu", enabled=False)
    )


@torch.inference_mode()
def predict_logits(
    model: nn.Module, x: torch.Tensor, batch: int | None = None, bf16: bool = True
) -> torch.Tensor:
    """Logits of `x` in batches of `batch` (default: `eval_batch` of x's device)."""
    batch = batch or eval_batch(x.device)
    model.eval()
    with _autocast(x.device, bf16):
        return torch.cat([model(x[i : i + batch]).float() for i in range(0, len(x), batch)])


def evaluate(model: nn.Module, data: Tensors, loss_fn) -> tuple[float, float]:
    logits = predict_logits(model, data.x)
    return float(loss_fn(logits, data.y)), float((logits.argmax(1) == data.y).float().mean())


def time_inference(model: nn.Module, x: torch.Tensor) -> dict:
    """Seconds per image of the selected model's forward pass over `x` (the validation images) in
    `eval_batch` batches: a timing, so it lives with the training facts, not with the test
    metrics."""
    batch = eval_batch(x.device)
    predict_logits(model, x[:batch])  # warm-up
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    t0 = time.perf_counter()
    predict_logits(model, x)
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    return {
        "seconds_per_image": (time.perf_counter() - t0) / len(x),
        "images": len(x),
        "batch": batch,
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
    bf16: bool = True,
) -> tuple[float, float]:
    """One pass over `data` (len(data) draws in the sampler's order); on CUDA the forward pass
    runs under bf16 autocast unless `bf16=False`.

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
        with _autocast(device, bf16):
            logits = model(xb)
            loss = loss_fn(logits.float(), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(idx)
        correct += (logits.argmax(1) == yb).sum()
    return float(loss_sum) / n, float(correct) / n


def _finite(train_loss: float, val_loss: float, model: nn.Module) -> bool:
    """Whether an epoch left finite losses and weights (buffers included): a diverged run stops
    instead of saving NaN weights. It only reads what training computed; the numbers and the
    random draws of a run are the same with or without it."""
    if not (np.isfinite(train_loss) and np.isfinite(val_loss)):
        return False
    tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


@dataclass
class Result:
    model: nn.Module
    history: list[dict]
    info: dict = field(default_factory=dict)


class _Progress:
    """A tqdm bar on a terminal, one plain line per epoch otherwise (logs stay readable)."""

    def __init__(self, total: int, desc: str, done: int = 0):
        self.tty = sys.stderr.isatty()
        self.desc, self.total, self.done = desc, total, done
        self.seconds = 0.0  # the epochs of this process (a resumed run's earlier ones not known)
        self.timed = 0
        self.bar = tqdm(total=total, initial=done, desc=desc, unit="epoch") if self.tty else None

    def line(self, row: dict) -> str:
        """`epoch 3/25: ..., 6.0s, ~2m 18s left`: the time left from the mean epoch so far."""
        self.seconds += row["seconds"]
        self.timed += 1
        left = (self.total - row["epoch"]) * self.seconds / self.timed
        minutes, secs = divmod(round(left), 60)
        eta = f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
        return (
            f"epoch {row['epoch']}/{self.total}: train loss {row['train_loss']:.4f}, "
            f"val loss {row['val_loss']:.4f}, val acc {row['val_acc']:.4f} "
            f"({row['seconds']:.1f}s, ~{eta} left)"
        )

    def update(self, row: dict) -> None:
        text = self.line(row)
        if self.bar is not None:
            self.bar.set_postfix_str(text.split(": ", 1)[1].split(" (", 1)[0])
            self.bar.update(1)
        else:
            print(f"{self.desc}: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------------------------- resuming
def run_fingerprint(cfg: dict, split: dict[str, np.ndarray], device: torch.device) -> str:
    """What a checkpoint must match to be resumed: the run config, the split's arrays, the device
    type, the torch thread count and the torch version (each can change the numbers)."""
    h = hashlib.sha256()
    facts = {
        "config": cfg,
        "device": device.type,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    h.update(json.dumps(facts, sort_keys=True).encode())
    for name in sorted(split):
        h.update(f"{name}:{array_sha256(split[name])}".encode())
    return h.hexdigest()


def _rng_state(gen: torch.Generator, device: torch.device) -> dict:
    state = {"generator": gen.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, gen: torch.Generator, device: torch.device) -> None:
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def save_resume_point(path: Path, state: dict) -> None:
    """Write a checkpoint atomically (a kill mid-write leaves the previous one)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes(path, buffer.getvalue())


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def load_resume_point(path: Path | None, fingerprint: str, name: str):
    """The checkpoint at `path` if it belongs to this run (same fingerprint), else None."""
    if path is None or not Path(path).is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # RNG states: CPU
        usable = state.get("fingerprint") == fingerprint
    except Exception as exc:  # unreadable: start over rather than fail
        _say(f"{name}: ignoring unreadable checkpoint {path} ({type(exc).__name__})")
        return None
    if not usable:
        _say(f"{name}: ignoring checkpoint {path}: made for another config or data")
        return None
    _say(f"{name}: resuming from {path} after epoch {state['epoch']}")
    return state


def train(
    cfg: dict,
    split: dict[str, np.ndarray],
    threads: int = 0,
    device: torch.device | None = None,
    name: str = "run",
    checkpoint: Path | None = None,
) -> Result:
    """Train one run config on one prepared split; returns the selected model, history and facts.

    With `checkpoint`, a resume point is written there after every epoch and, if one for this
    run is there already, training continues after its epoch (see the module docstring). The
    caller removes it once its outputs are written."""
    if threads > 0:
        torch.set_num_threads(threads)
    device = device or pick_device()
    allocator_tuned = device.type == "cpu" and freed_memory_reused()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
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
    train_seconds, earlier_wall, resumed_from = 0.0, 0.0, None
    fingerprint = run_fingerprint(cfg, split, device) if checkpoint is not None else None
    resume = load_resume_point(checkpoint, fingerprint, name)
    if resume is not None:  # continue after the checkpoint's epoch, in the state it left
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        _set_rng_state(resume["rng"], gen, device)
        history, best_loss = resume["history"], resume["best_loss"]
        best = (resume["best_epoch"], resume["best_state"]) if resume["best_epoch"] else None
        train_seconds, earlier_wall = resume["train_seconds"], resume["wall_seconds"]
        resumed_from = resume["epoch"]
    progress = _Progress(cfg["epochs"], name, done=len(history))
    start = time.perf_counter()
    for epoch in range(len(history) + 1, cfg["epochs"] + 1):
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
        if not _finite(train_loss, val_loss, model):
            progress.close()
            raise BlockbenchError(
                f"{name}: training diverged in epoch {epoch} of {cfg['epochs']} (train loss "
                f"{train_loss:.4g}, val loss {val_loss:.4g}: a loss or a weight is NaN or "
                f"infinite); nothing was saved; lower lr ({cfg['lr']}) and rerun"
            )
        history.append(row)
        progress.update(row)
        if val_loss < best_loss:
            best_loss, best = val_loss, (epoch, copy.deepcopy(model.state_dict()))
        if checkpoint is not None:
            save_resume_point(
                checkpoint,
                {
                    "fingerprint": fingerprint,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "rng": _rng_state(gen, device),
                    "history": history,
                    "best_epoch": best[0] if best else None,
                    "best_state": best[1] if best else None,
                    "best_loss": best_loss,
                    "train_seconds": train_seconds,
                    "wall_seconds": earlier_wall + time.perf_counter() - start,
                },
            )
    progress.close()
    wall = earlier_wall + time.perf_counter() - start

    last = history[-1]
    if cfg["select"] == "best_val":
        if best is None:  # every validation loss NaN or infinite: nothing to select
            raise BlockbenchError(
                f"{name}: the validation loss was not finite in any of the {cfg['epochs']} "
                f"epochs (training diverged); lower lr ({cfg['lr']}) and rerun"
            )
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
        # killed and rerun: the epochs up to this one came from the checkpoint (their seconds
        # were measured by the killed process; the time lost to the kill is in no figure)
        "resumed_from_epoch": resumed_from,
    }
    return Result(model, history, info)
