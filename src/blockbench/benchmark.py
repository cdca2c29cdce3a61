"""The speed benchmark: seconds per training step and per inferred image of each architecture,
measured on their own (the benchmark stage), not read from training runs that shared the cores.

Each architecture is a run of params.yaml (`benchmark.runs`; the part of its config the benchmark
reads is `configs.BENCHMARK_KEYS`: network, batch size, optimizer). It runs on the device the train
stage would use (`compute.device`) with `benchmark.threads` torch threads, through the trainer's
own code paths (`blockbench.training`):

- training: `steps` optimizer steps in the run's batch size, one `train_one_epoch` over
  steps x batch_size images (seeded permutation, forward, cross-entropy on the logits, backward,
  the run's optimizer step; bf16 autocast on CUDA, as the trainer);
- inference: `images` images through `predict_logits` (eval mode, inference mode, `eval_batch`
  images per forward pass).

The images are random uint8 28x28, normalised as the trainer normalises its split (speed does not
depend on the pixels). Everything is seeded, so every repeat does the same work. One warm-up repeat
(allocator, lazy initialisation, cuDNN autotuning) is not recorded; then `repeats` timed repeats,
each timing every architecture once, in alternating order (repeat 1: a, b; repeat 2: b, a; ...), so
that repeat i of a and repeat i of b are paired in time: drift in the machine's speed (other load,
clock, temperature) cancels in a paired comparison of log times. The result holds no wall-clock
date, so a rerun changes the timings only.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from . import configs
from .allocator import freed_memory_reused
from .models import build_model, count_parameters, macs_per_image
from .tensors import Tensors, eval_batch, to_tensors
from .training import make_optimizer, pick_device, predict_logits, train_one_epoch

SEED = 0
IMAGE_SIZE = 28
N_LABELS = 10

# progress(repeat, repeats, {run: (seconds per step, seconds per image)}); repeat 0 is the warm-up
Progress = Callable[[int, int, dict[str, tuple[float, float]]], None]


def blocks(cfg: dict) -> str:
    """`C1+M3`: the plain and MobileNet block counts, as the report names an architecture."""
    return f"C{cfg['n_conv']}+M{cfg['n_mobilenet']}"


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: torch.device) -> dict:
    """What the timings were taken on (no date: a rerun changes the timings only)."""
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "reuse_freed_memory": device.type == "cpu" and freed_memory_reused(),
    }


def order(runs: list[str], repeat: int) -> list[str]:
    """The runs in the order repeat `repeat` (from 0) times them: forward, then backward, ..."""
    return list(runs) if repeat % 2 == 0 else list(reversed(runs))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class _Arch:
    """One architecture's model, optimizer, batch-order generator and training images; they
    persist across repeats (the weights keep training: speed does not depend on them)."""

    cfg: dict
    model: nn.Module
    optimizer: torch.optim.Optimizer
    gen: torch.Generator
    train: Tensors
    loss_fn: nn.Module

    def step_seconds(self, steps: int) -> float:
        """Seconds per optimizer step over `steps` steps."""
        device = self.train.x.device
        _sync(device)
        t0 = time.perf_counter()
        train_one_epoch(
            self.model, self.optimizer, self.loss_fn, self.train, self.cfg["batch_size"], self.gen
        )
        _sync(device)  # train_one_epoch syncs at its end (float of the loss); explicit here
        return (time.perf_counter() - t0) / steps

    def image_seconds(self, x: torch.Tensor) -> float:
        """Seconds per image of the forward pass over `x` in eval mode."""
        _sync(x.device)
        t0 = time.perf_counter()
        predict_logits(self.model, x)
        _sync(x.device)
        return (time.perf_counter() - t0) / len(x)


def _images(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return (
        rng.integers(0, 256, (n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8),
        rng.integers(0, N_LABELS, n, dtype=np.int64),
    )


def measure(
    params: dict,
    runs: list[str] | None = None,
    threads: int = 2,
    steps: int = 20,
    images: int = 8192,
    repeats: int = 10,
    progress: Progress | None = None,
) -> dict[str, dict]:
    """Time the architectures of `runs` (default: study.mobilenet and study.plain), interleaved;
    returns run -> its timings and facts (the benchmark stage writes each as JSON)."""
    runs = list(runs or [params["study"]["mobilenet"], params["study"]["plain"]])
    cfgs = configs.benchmark_configs(params, runs)  # only the keys the benchmark reads
    device = pick_device(params["compute"]["device"])  # before any work: cuda without a GPU
    torch.set_num_threads(threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the trainer: fixed shapes, fastest kernels

    rng = np.random.default_rng(SEED)
    x, y = _images(rng, max(steps * c["batch_size"] for c in cfgs.values()))
    mean, std = float(x.mean() / 255.0), float(x.std() / 255.0)  # as the trainer normalises
    train_t = to_tensors(x, y, mean, std, device)
    infer_t = to_tensors(*_images(rng, images), mean, std, device)

    archs: dict[str, _Arch] = {}
    facts: dict[str, dict] = {}
    for run, cfg in cfgs.items():
        torch.manual_seed(SEED)  # the same initial weights whatever else was built before
        model = build_model(cfg).to(device).to(memory_format=torch.channels_last)
        n = steps * cfg["batch_size"]
        archs[run] = _Arch(
            cfg,
            model,
            make_optimizer(cfg, model),
            torch.Generator(device=device).manual_seed(SEED),
            Tensors(train_t.x[:n], train_t.y[:n]),
            nn.CrossEntropyLoss(),
        )
        facts[run] = {
            "run": run,
            "blocks": blocks(cfg),
            "parameters": count_parameters(model),
            "macs_per_image": macs_per_image(model, IMAGE_SIZE),
            "batch_size": cfg["batch_size"],
            "optimizer": cfg["optimizer"],
            "eval_batch": eval_batch(device),
            "precision": "bf16 autocast" if device.type == "cuda" else "fp32",
            "steps_per_repeat": steps,
            "images_per_repeat": images,
            "repeats": repeats,
        }

    timings: dict[str, dict[str, list]] = {
        run: {"train_step_seconds": [], "inference_seconds_per_image": [], "order": []}
        for run in runs
    }
    for repeat in range(-1, repeats):  # -1: the warm-up, not recorded
        now = {}
        for position, run in enumerate(order(runs, max(repeat, 0))):
            arch = archs[run]
            now[run] = (arch.step_seconds(steps), arch.image_seconds(infer_t.x))
            if repeat >= 0:
                timings[run]["train_step_seconds"].append(now[run][0])
                timings[run]["inference_seconds_per_image"].append(now[run][1])
                timings[run]["order"].append(position)
        if progress is not None:
            progress(repeat + 1, repeats, {run: now[run] for run in runs})

    about = machine(device)
    return {run: {**facts[run], **timings[run], "machine": about} for run in runs}
