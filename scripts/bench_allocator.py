"""Benchmark: training steps with glibc's default malloc vs blockbench's `reuse_freed_memory`.

Each (architecture, allocator) pair runs in a fresh process: a few Adam steps on one random
1,500-image batch, channels_last, the default widths and strides of params.yaml. Prints ms per step,
CPU seconds in user and kernel mode, and minor page faults during the timed steps.

    .venv/bin/python scripts/bench_allocator.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ARCHS = ("c4", "c1m3")  # runs of params.yaml


def measure(arch: str, allocator: str, steps: int, threads: int, batch: int) -> dict:
    import torch
    from torch import nn

    from blockbench import params
    from blockbench.allocator import reuse_freed_memory
    from blockbench.models import build_model

    applied = reuse_freed_memory() if allocator == "reuse" else False
    torch.set_num_threads(threads)
    cfg = params.run_config(params.load(), arch)
    torch.manual_seed(0)
    model = build_model(cfg).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.Adam(model.parameters(), 0.01)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up
        step()
    r0, c0, t0 = resource.getrusage(resource.RUSAGE_SELF), os.times(), time.perf_counter()
    for _ in range(steps):
        step()
    t1, c1, r1 = time.perf_counter(), os.times(), resource.getrusage(resource.RUSAGE_SELF)
    return {
        "applied": applied,
        "ms_per_step": 1000 * (t1 - t0) / steps,
        "user_s": c1.user - c0.user,
        "sys_s": c1.system - c0.system,
        "minor_faults": r1.ru_minflt - r0.ru_minflt,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=1500)
    p.add_argument("--worker", nargs=2, metavar=("ARCH", "ALLOCATOR"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(measure(*args.worker, args.steps, args.threads, args.batch_size)))
        return
    print(
        f"{args.steps} timed steps after 2 warm-up, batch {args.batch_size}, "
        f"{args.threads} threads, each row a fresh process"
    )
    print(
        f"{'arch':6} {'allocator':10} {'ms/step':>8} {'user s':>7} {'sys s':>6} "
        f"{'minor faults':>13}"
    )
    for arch in ARCHS:
        for allocator in ("default", "reuse"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--steps",
                    str(args.steps),
                    "--threads",
                    str(args.threads),
                    "--batch-size",
                    str(args.batch_size),
                    "--worker",
                    arch,
                    allocator,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{arch:6} {allocator:10} {r['ms_per_step']:8.0f} {r['user_s']:7.1f} "
                f"{r['sys_s']:6.1f} {r['minor_faults']:13,}",
                flush=True,
            )


if __name__ == "__main__":
    main()
