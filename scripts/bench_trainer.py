"""Benchmark: blockbench's in-memory trainer vs the usual torchvision Dataset + DataLoader loop.

Both train the same model (same init, batch size, optimizer, thread count) on the same images:
the training part of a prepared split. The baseline reads them through torchvision's MNIST Dataset
(raw idx files written from the split) with a per-sample ToTensor + Normalize and a DataLoader;
blockbench's trainer indexes one resident tensor. Prints images/s for each and the ratio.

    .venv/bin/python scripts/bench_trainer.py --split data/prepared/imbalanced/split.npz --threads 2
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision import datasets, transforms

from blockbench.models import build_model
from blockbench.storage import load_npz
from blockbench.training import Tensors, make_optimizer, to_tensors, train_one_epoch

ARCHS = {"c4": (4, 0), "c1m3": (1, 3)}


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", default="data/prepared/imbalanced/split.npz")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=1500)
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per trainer (after one warm-up)")
    p.add_argument("--archs", default="c4,c1m3")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    split = load_npz(args.split, required=("x_train", "y_train"))
    x, y = split["x_train"], split["y_train"]
    mean, std = float(x.mean() / 255), float(x.std() / 255)
    cfg_base = {"base_width": 16, "max_width": 128, "optimizer": "adam", "lr": 0.01, "weight_decay": 0.0}
    loss_fn = nn.CrossEntropyLoss()

    with tempfile.TemporaryDirectory() as tmp:
        write_idx(Path(tmp), x, y)
        ds = datasets.MNIST(tmp, train=True, download=False,
                            transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))]))
        loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=0)
        data = to_tensors(x, y, mean, std, torch.device("cpu"))
        print(f"{len(y)} training images, batch {args.batch_size}, {args.threads} threads, "
              f"{args.epochs} timed epochs after 1 warm-up, torch {torch.__version__}")
        print(f"{'arch':6} {'baseline img/s':>15} {'blockbench img/s':>17} {'ratio':>6}")
        for arch in args.archs.split(","):
            n_conv, n_mob = ARCHS[arch]
            cfg = {**cfg_base, "n_conv": n_conv, "n_mobilenet": n_mob}
            torch.manual_seed(0)
            m1 = build_model(cfg)
            o1 = make_optimizer(cfg, m1)
            base = timed(lambda: baseline_epoch(m1, o1, loss_fn, loader), args.epochs)
            torch.manual_seed(0)
            m2 = build_model(cfg).to(memory_format=torch.channels_last)
            o2 = make_optimizer(cfg, m2)
            gen = torch.Generator().manual_seed(0)
            ours = timed(lambda: ours_epoch(m2, o2, loss_fn, data, args.batch_size, gen), args.epochs)
            print(f"{arch:6} {base:15.0f} {ours:17.0f} {ours / base:6.2f}")


if __name__ == "__main__":
    main()
