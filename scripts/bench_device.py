"""Benchmark: training and evaluation images/s per architecture on the device torch finds.

The trainer's own code paths (`blockbench.training`): the images live on the device as one tensor,
each epoch is `train_one_epoch` (random permutation, index batches) and evaluation is
`predict_logits` in `eval_batch` batches. On CUDA the forward passes run under bf16 autocast (the
trainer's setting) and, for comparison, in fp32 (`--precision both`, the default there); on the CPU
autocast is off and the numbers are the study's. Each architecture is a run of params.yaml
(`runs.<name>`: its widths, strides and batch size). The images are random 28x28 uint8 (speed does
not depend on the pixels) unless `--split` names a prepared split.

    .venv/bin/python scripts/bench_device.py                       # c1m3 c4 c3m3 c3m5, auto device
    .venv/bin/python scripts/bench_device.py --device cpu --images 4096 --repeats 3
    .venv/bin/python scripts/bench_device.py --split data/prepared/imbalanced/split.npz

Prints one line per architecture and precision: the median images/s over `--repeats` timed
epochs (after one warm-up epoch) with the slowest and fastest repeat beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

from blockbench import params as params_mod
from blockbench.allocator import reuse_freed_memory
from blockbench.errors import BlockbenchError
from blockbench.models import build_model, count_parameters
from blockbench.storage import load_npz
from blockbench.tensors import eval_batch, to_tensors
from blockbench.training import make_optimizer, pick_device, predict_logits, train_one_epoch

ARCHS = ["c1m3", "c4", "c3m3", "c3m5"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):10,.0f}  [{min(values):,.0f} .. {max(values):,.0f}]"


def bench(cfg: dict, images, labels, device, bf16: bool, repeats: int, batch: int) -> dict:
    """Images/s of `repeats` training epochs and `repeats` evaluation passes over the images."""
    torch.manual_seed(0)
    mean, std = float(images.mean() / 255), float(images.std() / 255)
    data = to_tensors(images, labels, mean, std, device)
    model = build_model(cfg).to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(cfg, model)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator(device=device).manual_seed(0)

    def epoch() -> float:
        sync(device)
        t0 = time.perf_counter()
        train_one_epoch(model, optimizer, loss_fn, data, batch, gen, bf16=bf16)
        sync(device)  # train_one_epoch syncs once at its end; this makes it explicit
        return len(data.y) / (time.perf_counter() - t0)

    def evaluation() -> float:
        sync(device)
        t0 = time.perf_counter()
        predict_logits(model, data.x, bf16=bf16)
        sync(device)
        return len(data.y) / (time.perf_counter() - t0)

    epoch(), evaluation()  # warm-up: allocator, cuDNN autotuning, lazy init
    return {
        "train": [epoch() for _ in range(repeats)],
        "eval": [evaluation() for _ in range(repeats)],
        "parameters": count_parameters(model),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default=params_mod.DEFAULT_PARAMS)
    p.add_argument("--archs", nargs="+", default=ARCHS, help="runs of params.yaml")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--images", type=int, default=20000, help="random images (without --split)")
    p.add_argument("--split", help="a prepared split.npz: time on its training images instead")
    p.add_argument("--batch", type=int, default=0, help="batch size (0: each run's batch_size)")
    p.add_argument("--repeats", type=int, default=5, help="timed epochs (and evaluation passes)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (as the engines)")
    p.add_argument("--precision", choices=["bf16", "fp32", "both"], default="both")
    args = p.parse_args(argv)

    try:
        device = pick_device(args.device)
    except BlockbenchError:
        sys.exit("error: --device cuda, but torch sees no CUDA GPU here; use --device auto or cpu")
    torch.set_num_threads(args.threads)
    if device.type == "cpu":
        reuse_freed_memory()  # as every stage does
    else:
        torch.backends.cudnn.benchmark = True  # as the trainer does on CUDA
    if args.split:
        split = load_npz(args.split, required=("x_train", "y_train"))
        images, labels = split["x_train"], split["y_train"]
    else:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (args.images, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, args.images)
    precisions = {"bf16": [True], "fp32": [False], "both": [True, False]}[args.precision]
    if device.type != "cuda":
        precisions = [False]  # autocast is CUDA-only in the trainer: the CPU always runs fp32
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    print(
        f"device {name}{threads}, torch {torch.__version__}, {len(images):,} images, "
        f"eval batch {eval_batch(device)}, {args.repeats} repeats (median [min .. max])"
    )
    print(f"{'arch':8} {'precision':9} {'params':>9} {'train images/s':>32} {'eval images/s':>32}")
    loaded = params_mod.load(args.params)
    for arch in args.archs:
        cfg = params_mod.run_config(loaded, arch)
        batch = args.batch or cfg["batch_size"]
        for bf16 in precisions:
            r = bench(cfg, images, labels, device, bf16, args.repeats, batch)
            print(
                f"{arch:8} {'bf16' if bf16 else 'fp32':9} {r['parameters']:>9,} "
                f"{spread(r['train']):>32} {spread(r['eval']):>32}",
                flush=True,
            )


if __name__ == "__main__":
    main()
