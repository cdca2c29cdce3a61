"""Stage benchmark: time a training step and an inferred image of each architecture of
`benchmark.runs`, interleaved over repeats (`blockbench.benchmark`); one JSON per run.

It runs on `compute.device` with `benchmark.threads` threads and should run alone on the machine:
Snakemake gives it every core (no other job beside it); under DVC, run it when nothing else runs."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from .. import configs, paths
from ..benchmark import measure
from ..storage import write_json


def _line(repeat: int, repeats: int, now: dict[str, tuple[float, float]]) -> None:
    what = "warm-up" if repeat == 0 else f"repeat {repeat} of {repeats}"
    times = ", ".join(
        f"{run} {step:.3f} s/step {image * 1e3:.3f} ms/image" for run, (step, image) in now.items()
    )
    print(f"benchmark: {what}: {times}", file=sys.stderr, flush=True)


def run(params: dict, root: Path = Path(".")) -> dict[str, dict]:
    spec = params["benchmark"]
    configs.read_benchmark_current(params, root)  # never time a stale key file's runs
    results = measure(
        params,
        spec["runs"],
        threads=spec["threads"],
        steps=spec["steps"],
        images=spec["images"],
        repeats=spec["repeats"],
        progress=_line,
    )
    for name, result in results.items():
        write_json(root / paths.benchmark(name), result)
    medians = ", ".join(
        f"{name} {statistics.median(r['train_step_seconds']):.3f} s/step "
        f"{statistics.median(r['inference_seconds_per_image']) * 1e3:.3f} ms/image"
        for name, r in results.items()
    )
    print(f"benchmark: wrote {paths.BENCHMARK}/ (median of {spec['repeats']} repeats: {medians})")
    return results
