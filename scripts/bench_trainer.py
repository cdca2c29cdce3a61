"""Benchmark: blockbench's in-memory trainer vs the usual torchvision Dataset + DataLoader loop.

Both train the same model (same init, batch size, optimizer, thread count) on the same images:
the training part of a prepared split. The baseline reads them through torchvision's MNIST Dataset
(raw idx files written from the split) with a per-sample ToTensor + Normalize and a DataLoader;
blockbench's trainer indexes one resident tensor and keeps freed memory for reuse
(`blockbench.allocator`). Each trainer runs in a fresh process. Prints images/s for each, the
ratio, and a third column: the baseline with the same allocator setting, so the share of the gain
that comes from the allocator alone is visible.

    .venv/bin/python scripts/bench_trainer.py --split data/prepared/imbalanced/split.npz --threads 2
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision import datasets, transforms

from blockbench import params
from blockbench.allocator import reuse_freed_memory
from blockbench.models import build_model
from blockbench.storage import load_npz
from blockbench.training import Tensors, make_optimizer, to_tensors, train_one_epoch


def write_idx(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Lay the images out as torchvision's MNIST expects (MNIST/raw/*-ubyte)."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        with open(raw / f"{prefix}-images-idx3-ubyte", "wb") as fh:
            fh.write(struct.pack(">iiii", 2051, len(images), 28, 28) + images.tobytes())
        with open(raw / f"{prefix}-labels-idx1-ubyte", "wb") as fh:
            fh.write(struct.pack(">ii", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def baseline_epoch(model, opt, loss_fn, loader) -> int:
    model.train()
    n = 0
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n += len(yb)
    return n


def ours_epoch(model, opt, loss_fn, data: Tensors, bs: int, gen) -> int:
    train_one_epoch(model, opt, loss_fn, data, bs, gen)
    return len(data.y)


def timed(fn, epochs: int) -> float:
    fn()  # warm-up epoch, not timed
    t0 = time.perf_counter()
    n = sum(fn() for _ in range(epochs))
    return n / (time.perf_counter() - t0)


def measure(args, arch: str, trainer: str) -> float:
    """Images/s of one trainer on one architecture, in this (fresh) process."""
    torch.set_num_threads(args.threads)
    if trainer != "baseline":  # blockbench's trainer does this in training.train
        reuse_freed_memory()
    split = load_npz(args.split, required=("x_train", "y_train"))
    x, y = split["x_train"], split["y_train"]
    mean, std = float(x.mean() / 255), float(x.std() / 255)
    cfg = params.run_config(
        params.load(args.params), arch
    )  # the run's blocks, widths, strides, optimizer
    loss_fn = nn.CrossEntropyLoss()
    torch.manual_seed(0)
    if trainer == "blockbench":
        model = build_model(cfg).to(memory_format=torch.channels_last)
        opt = make_optimizer(cfg, model)
        data = to_tensors(x, y, mean, std, torch.device("cpu"))
        gen = torch.Generator().manual_seed(0)
        return timed(
            lambda: ours_epoch(model, opt, loss_fn, data, args.batch_size, gen), args.epochs
        )
    model = build_model(cfg)
    opt = make_optimizer(cfg, model)
    with tempfile.TemporaryDirectory() as tmp:
        write_idx(Path(tmp), x, y)
        ds = datasets.MNIST(
            tmp,
            train=True,
            download=False,
            transform=transforms.Compose(
                [transforms.ToTensor(), transforms.Normalize((mean,), (std,))]
            ),
        )
        loader = torch.utils.data.DataLoader(
            ds, batch_size=args.batch_size, shuffle=True, num_workers=0
        )
        return timed(lambda: baseline_epoch(model, opt, loss_fn, loader), args.epochs)


TRAINERS = ("baseline", "baseline+alloc", "blockbench")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", default="data/prepared/imbalanced/split.npz")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=1500)
    p.add_argument(
        "--epochs", type=int, default=2, help="timed epochs per trainer (after one warm-up)"
    )
    p.add_argument("--archs", default="c4,c1m3", help="runs of params.yaml")
    p.add_argument(
        "--params",
        default="params.yaml",
        help="the widths, strides and optimizer come from its train section",
    )
    p.add_argument("--worker", nargs=2, metavar=("ARCH", "TRAINER"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(measure(args, *args.worker))
        return

    n = len(load_npz(args.split, required=("y_train",))["y_train"])
    print(
        f"{n} training images, batch {args.batch_size}, {args.threads} threads, "
        f"{args.epochs} timed epochs after 1 warm-up, each trainer in a fresh process, "
        f"torch {torch.__version__}"
    )
    print(
        f"{'arch':6} {'baseline img/s':>15} {'baseline+alloc':>15} {'blockbench img/s':>17} "
        f"{'ratio':>6} {'ratio vs +alloc':>16}"
    )
    forward = [a for a in sys.argv[1:]]
    for arch in args.archs.split(","):
        speed = {}
        for trainer in TRAINERS:
            out = subprocess.run(
                [sys.executable, __file__, *forward, "--worker", arch, trainer],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            speed[trainer] = float(out.strip().splitlines()[-1])
        b, ba, ours = (speed[t] for t in TRAINERS)
        print(
            f"{arch:6} {b:15.0f} {ba:15.0f} {ours:17.0f} {ours / b:6.2f} {ours / ba:16.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
